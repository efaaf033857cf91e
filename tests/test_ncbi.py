"""NCBI accessions to assembly URLs, with the assembly name read from a folder listing."""

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dnatune.genome.ncbi import (
    NcbiError,
    folder_name,
    md5_from_checksums,
    names_in_listing,
    parent_url,
    resolve_assembly,
)

ECOLI = "https://ftp.ncbi.nlm.nih.gov/genomes/all/GCF/000/005/845/GCF_000005845.2_ASM584v2/"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A local NCBI-like tree served over http; yields (base URL, root folder)."""
    parent = tmp_path / "GCF" / "000" / "005" / "845"
    for folder in ("GCF_000005845.1_ASM584v1", "GCF_000005845.2_ASM584v2"):
        (parent / folder).mkdir(parents=True)
    (tmp_path / "GCA" / "000" / "001" / "405").mkdir(parents=True)
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", tmp_path
    server.shutdown()
    server.server_close()


def test_urls_of_a_named_assembly_need_no_network():
    assembly = resolve_assembly("GCF_000005845.2", "ASM584v2", base_url="http://127.0.0.1:9/")
    default = resolve_assembly("GCF_000005845.2", "ASM584v2")
    assert default.directory == ECOLI
    assert default.genome_url == ECOLI + "GCF_000005845.2_ASM584v2_genomic.fna.gz"
    assert default.annotation_url == ECOLI + "GCF_000005845.2_ASM584v2_genomic.gff.gz"
    assert default.md5_url == ECOLI + "md5checksums.txt"
    assert assembly.genome_url.startswith("http://127.0.0.1:9/GCF/000/005/845/")


def test_parent_folder_and_folder_names():
    assert parent_url("GCA_000001405.29") == (
        "https://ftp.ncbi.nlm.nih.gov/genomes/all/GCA/000/001/405/"
    )
    assert folder_name("GRCh38 p14") == "GRCh38_p14"
    assert folder_name("T2T-CHM13v2.0") == "T2T-CHM13v2.0"


@pytest.mark.parametrize("bad", ["GCF_5845.2", "GCF_000005845", "NC_000913.3", "gcf_000005845.2"])
def test_malformed_accession_is_an_error(bad):
    with pytest.raises(NcbiError, match=f"'{bad}' is not an NCBI assembly accession"):
        resolve_assembly(bad, "x")


def test_names_in_html_and_ftp_listings():
    html = (
        '<a href="GCF_000005845.1_ASM584v1/">GCF_000005845.1_ASM584v1/</a>\n'
        '<a href="GCF_000005845.2_ASM584v2/">GCF_000005845.2_ASM584v2/</a>\n'
    )
    ftp = "dr-xr-xr-x 2 ftp anonymous 4096 Mar 1 2024 GCF_000005845.2_ASM584v2\r\n"
    assert names_in_listing("GCF_000005845.2", html) == ["ASM584v2"]
    assert names_in_listing("GCF_000005845.2", ftp) == ["ASM584v2"]
    assert names_in_listing("GCF_000005845.3", html) == []


def test_name_resolved_from_the_listing_over_http(mirror):
    base, _ = mirror
    assembly = resolve_assembly("GCF_000005845.2", base_url=base, retries=1)
    assert assembly.name == "ASM584v2"
    assert assembly.genome_url == (
        f"{base}GCF/000/005/845/GCF_000005845.2_ASM584v2/GCF_000005845.2_ASM584v2_genomic.fna.gz"
    )


def test_name_resolved_from_a_local_mirror(mirror):
    _, root = mirror
    assembly = resolve_assembly("GCF_000005845.1", base_url=root.as_uri())
    assert assembly.name == "ASM584v1"


def test_unknown_version_names_the_versions_that_exist(mirror):
    base, _ = mirror
    with pytest.raises(
        NcbiError, match=r"no assembly GCF_000005845\.3 .*GCF_000005845\.1, GCF_000005845\.2"
    ):
        resolve_assembly("GCF_000005845.3", base_url=base, retries=1)


def test_unknown_accession_folder_is_an_error(mirror):
    base, _ = mirror
    with pytest.raises(NcbiError, match=r"NCBI has no folder for GCF_000999999\.1"):
        resolve_assembly("GCF_000999999.1", base_url=base, retries=1)


def test_md5_from_ncbi_checksum_list():
    text = (
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0  ./GCF_000005845.2_ASM584v2_genomic.fna.gz\n"
        "aaaabbbbccccddddeeeeffff00001111  ./GCF_000005845.2_ASM584v2_genomic.gff.gz\n"
    )
    assert md5_from_checksums(text, "GCF_000005845.2_ASM584v2_genomic.gff.gz") == (
        "aaaabbbbccccddddeeeeffff00001111"
    )
    assert md5_from_checksums(text, "other.txt") is None
