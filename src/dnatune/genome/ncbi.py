"""NCBI assembly accessions (GCF_/GCA_) to the URLs of their files.

NCBI keeps every assembly under a folder derived from its accession:
GCF_000005845.2 with the assembly name ASM584v2 lives in
https://ftp.ncbi.nlm.nih.gov/genomes/all/GCF/000/005/845/GCF_000005845.2_ASM584v2/
and holds GCF_000005845.2_ASM584v2_genomic.fna.gz, ..._genomic.gff.gz and
md5checksums.txt. When the config gives no assembly name, it is read from the
listing of the parent folder (.../GCF/000/005/845/), which names each version's
folder.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass

from dnatune.genome.download import DownloadError, fetch_text

logger = logging.getLogger(__name__)

NCBI_BASE = "https://ftp.ncbi.nlm.nih.gov/genomes/all"
ACCESSION = re.compile(r"^(GC[AF])_(\d{3})(\d{3})(\d{3})\.(\d+)$")


class NcbiError(ValueError):
    """An accession that cannot be resolved; the message says why and what to change."""


@dataclass(frozen=True)
class Assembly:
    accession: str
    name: str
    base_url: str = NCBI_BASE

    @property
    def directory(self) -> str:
        return f"{parent_url(self.accession, self.base_url)}{self.accession}_{self.name}/"

    def file_url(self, suffix: str) -> str:
        return f"{self.directory}{self.accession}_{self.name}_{suffix}"

    @property
    def genome_url(self) -> str:
        return self.file_url("genomic.fna.gz")

    @property
    def annotation_url(self) -> str:
        return self.file_url("genomic.gff.gz")

    @property
    def md5_url(self) -> str:
        return self.directory + "md5checksums.txt"


def _parse(accession: str) -> re.Match:
    match = ACCESSION.match(accession)
    if not match:
        raise NcbiError(
            f"'{accession}' is not an NCBI assembly accession: expected GCF_ or GCA_, nine "
            f"digits and a version, for example GCF_000005845.2"
        )
    return match


def parent_url(accession: str, base_url: str = NCBI_BASE) -> str:
    """The folder whose listing names the accession's assembly folder."""
    prefix, a, b, c, _ = _parse(accession).groups()
    return f"{base_url.rstrip('/')}/{prefix}/{a}/{b}/{c}/"


def folder_name(name: str) -> str:
    """NCBI's folder form of an assembly name (characters other than A-Za-z0-9._- become _)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def names_in_listing(accession: str, listing: str) -> list[str]:
    """Assembly names of `accession` found in an HTML or FTP directory listing."""
    pattern = re.escape(accession) + r"_([^\s\"'/<>]+)"
    return sorted({urllib.parse.unquote(m) for m in re.findall(pattern, listing)})


def _listing(url: str, retries: int, backoff: float, timeout: float) -> str:
    if urllib.parse.urlsplit(url).scheme == "file":
        # urllib cannot list a local folder; a mirror on disk is read directly
        path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
        try:
            return "\n".join(sorted(os.listdir(path)))
        except OSError as err:
            raise DownloadError(f"{url}: cannot list the folder ({err})") from None
    return fetch_text(url, retries=retries, backoff=backoff, timeout=timeout)


def resolve_assembly(
    accession: str,
    name: str | None = None,
    *,
    base_url: str = NCBI_BASE,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
) -> Assembly:
    """The assembly of `accession`; its name is looked up on NCBI when not given."""
    _parse(accession)
    if name:
        return Assembly(accession, folder_name(name), base_url)
    parent = parent_url(accession, base_url)
    try:
        listing = _listing(parent, retries, backoff, timeout)
    except DownloadError as err:
        if "HTTP 404" in str(err):
            raise NcbiError(
                f"NCBI has no folder for {accession} ({parent} is not found); check the accession"
            ) from None
        raise
    names = names_in_listing(accession, listing)
    if not names:
        others = sorted(set(re.findall(r"GC[AF]_\d{9}\.\d+", listing)))
        hint = f" (it lists {', '.join(others)})" if others else ""
        raise NcbiError(
            f"NCBI has no assembly {accession} in {parent}{hint}; check the accession and its "
            f"version, or set genomes.<name>.ncbi.name"
        )
    if len(names) > 1:
        raise NcbiError(
            f"{parent} lists several assemblies for {accession} ({', '.join(names)}); "
            f"set genomes.<name>.ncbi.name to one of them"
        )
    logger.info("%s: assembly name %s (from %s)", accession, names[0], parent)
    return Assembly(accession, names[0], base_url)


def md5_from_checksums(text: str, filename: str) -> str | None:
    """The md5 of `filename` in an NCBI md5checksums.txt (lines '<md5>  ./<file>')."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("./").lstrip("/") == filename:
            return parts[0].lower()
    return None


def expected_md5(
    assembly: Assembly, url: str, *, retries: int = 5, backoff: float = 2.0, timeout: float = 60.0
) -> str | None:
    """NCBI's published md5 of one of the assembly's files, or None if it has none."""
    try:
        text = fetch_text(assembly.md5_url, retries=retries, backoff=backoff, timeout=timeout)
    except DownloadError as err:
        logger.warning("%s: no md5 checksums (%s); the download is not verified", url, err)
        return None
    return md5_from_checksums(text, url.rsplit("/", 1)[-1])
