"""Variant effects: VCF reading against the genome, zero-shot and supervised scores, outputs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import torch
from genome_fixtures import write_genome
from model_fixtures import CHAR, make_model, make_tokenizer

from dnatune.apply import scorers, variants
from dnatune.apply.likelihood import (
    MASKED_MARGINAL,
    SPAN_PLL,
    common_ends,
    masked_queries,
    zero_shot_scores,
)
from dnatune.apply.variant_auroc import variant_auroc
from dnatune.apply.vcf_io import VariantInputError, read_alleles

ROOT = Path(__file__).resolve().parents[1]
CHR1 = "ACGTACGTAC" * 6  # 60 bp
CHR2 = "TTGCA" * 8  # 40 bp
HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=60>\n##contig=<ID=chr2,length=40>\n"
    '##INFO=<ID=AF,Number=A,Type=Float,Description="allele frequency">\n'
    '##INFO=<ID=BROKEN,Number=0,Type=Flag,Description="breaks an element">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


@pytest.fixture
def genome(tmp_path):
    return write_genome(tmp_path / "genome.fa.gz", {"chr1": CHR1, "chr2": CHR2})


def write_vcf(path, lines: list[str], header: str = HEADER):
    path.write_text(header + "".join(line + "\n" for line in lines))
    return path


def test_alleles_split_multiallelic_and_build_indel_windows(tmp_path, genome):
    vcf = write_vcf(
        tmp_path / "v.vcf",
        [
            "chr1\t21\tsnv\tA\tC,G\t.\t.\tAF=0.1,0.2;BROKEN",  # CHR1[20] = A
            "chr1\t31\tdel\tACG\tA\t.\t.\t.",
            "chr1\t41\tins\tA\tATTT\t.\t.\t.",
            "chr2\t11\tsym\tT\t<DEL>\t.\t.\t.",
        ],
    )
    alleles = read_alleles(vcf, genome, window=20, truth="BROKEN")
    assert list(alleles["alt"]) == ["C", "G", "A", "ATTT", "<DEL>"]
    assert list(alleles["alt_index"]) == [1, 2, 1, 1, 1]
    assert list(alleles["kind"]) == ["snv", "snv", "deletion", "insertion", "symbolic"]
    assert list(alleles["status"]) == ["ok", "ok", "ok", "ok", "symbolic"]
    assert list(alleles["truth"]) == [True, True, False, False, False]
    snv = alleles.iloc[0]
    assert snv.ref_window == CHR1[10:30] and len(snv.alt_window) == 20
    assert snv.alt_window == CHR1[10:20] + "C" + CHR1[21:30]
    deletion = alleles.iloc[2]
    start, offset = deletion.window_start, deletion.variant_offset
    assert deletion.ref_window == CHR1[start : start + 20]
    assert deletion.alt_window == CHR1[start:30] + "A" + CHR1[33 : start + 20]
    assert alleles.iloc[3].alt_window == CHR1[30:40] + "ATTT" + CHR1[41:50]
    assert start + offset == 30 and not alleles["clipped"].any()


def test_variants_at_contig_ends_get_clipped_windows(tmp_path, genome):
    vcf = write_vcf(tmp_path / "v.vcf", ["chr1\t1\t.\tA\tT\t.\t.\t.", "chr2\t40\t.\tA\tG\t.\t.\t."])
    alleles = read_alleles(vcf, genome, window=20)
    assert alleles["clipped"].all()
    first, last = alleles.iloc[0], alleles.iloc[1]
    assert first.window_start == 0 and first.ref_window == CHR1[:10]
    assert first.alt_window == "T" + CHR1[1:10]
    assert last.ref_window == CHR2[29:] and last.alt_window == CHR2[29:39] + "G"


def test_contig_the_genome_lacks_is_an_error_naming_record_and_contigs(tmp_path, genome):
    header = HEADER.replace("##contig=<ID=chr2,length=40>\n", "##contig=<ID=2,length=40>\n")
    vcf = write_vcf(
        tmp_path / "v.vcf", ["chr1\t5\t.\tA\tC\t.\t.\t.", "2\t3\t.\tG\tC\t.\t.\t."], header
    )
    with pytest.raises(
        VariantInputError, match=r"v\.vcf: record 2 \(2:3\) is on contig '2'.*chr1, chr2"
    ):
        read_alleles(vcf, genome, window=20)


def test_ref_mismatch_is_an_error_or_a_flagged_row(tmp_path, genome):
    vcf = write_vcf(
        tmp_path / "v.vcf", ["chr1\t5\t.\tA\tC\t.\t.\t.", "chr1\t6\tbad\tG\tA\t.\t.\t."]
    )
    with pytest.raises(VariantInputError, match=r"record 2 \(chr1:6\): REF G but the genome has C"):
        read_alleles(vcf, genome, window=20)
    alleles = read_alleles(vcf, genome, window=20, ref_mismatch="flag")
    assert list(alleles["status"]) == ["ok", "ref_mismatch"]
    assert alleles.iloc[1].ref_window == "" and alleles.iloc[1].alt_window == ""


def test_malformed_record_is_an_error_naming_it(tmp_path, genome):
    vcf = write_vcf(
        tmp_path / "v.vcf", ["chr1\t5\t.\tA\tC\t.\t.\t.", "chr1\tabc\t.\tA\tC\t.\t.\t."]
    )
    with pytest.raises(VariantInputError, match=r"v\.vcf: record 2, the one after chr1:5, cannot"):
        read_alleles(vcf, genome, window=20)


def test_failed_merge_leaves_neither_output(tmp_path, genome):
    vcf = write_vcf(tmp_path / "v.vcf", ["chr1\t5\t.\tA\tC\t.\t.\t."])
    alleles = tmp_path / "alleles.parquet"
    variants.index_variants(vcf, genome, alleles, 20, "error", None)
    out = tmp_path / "out"
    with pytest.raises(KeyError):  # a scorer described but never scored: fails mid-VCF
        variants.merge_scores(
            vcf, genome, alleles, {}, {"ZS_missing": "?"}, out / "s.vcf.gz", out / "s.tsv"
        )
    assert list(out.iterdir()) == []


def test_common_ends_and_masked_queries():
    ref, alt = np.array([2, 5, 6, 7, 8, 3]), np.array([2, 5, 9, 7, 8, 3])
    assert common_ends(ref, alt) == (2, 3)
    method, queries = masked_queries(0, ref, alt, mask_id=4)
    assert method == MASKED_MARGINAL and len(queries) == 1
    assert list(queries[0].ids) == [2, 5, 4, 7, 8, 3]
    assert sorted(queries[0].terms) == [(2, 6, -1.0), (2, 9, 1.0)]
    method, queries = masked_queries(0, ref, np.array([2, 5, 7, 8, 3]), mask_id=4)
    assert method == SPAN_PLL  # the deletion of token 6: only the ref span [6] is scored
    assert [q.terms for q in queries] == [[(2, 6, -1.0)]]


def biased_mlm(tmp_path, base: str = "A"):
    """A tiny char-level BERT whose MLM head strongly prefers `base` at every position."""
    tok = make_tokenizer(tmp_path / "tok", CHAR)
    model_dir = make_model(tmp_path / "mlm", tok, "bert")
    model, tokenizer, _ = scorers.load_language_model(model_dir, False, 0, False)
    with torch.no_grad():
        model.cls.predictions.bias[tokenizer.hf.convert_tokens_to_ids(base)] += 20.0
    return model, tokenizer


def zero_shot(model, tokenizer, objective, refs, alts):
    scores, methods = zero_shot_scores(
        model, tokenizer, objective, refs, alts, max_tokens=80, batch_size=4
    )
    return scores, methods


def test_masked_marginal_llr_is_positive_for_the_preferred_base(tmp_path):
    model, tokenizer = biased_mlm(tmp_path)
    ref = "CGTCGTCGTCCGTCGT"
    to_a = ref[:8] + "A" + ref[9:]
    from_a = "AAAAAAAAAAAAAAAA"
    scores, methods = zero_shot(
        model, tokenizer, "mlm", [ref, from_a], [to_a, from_a[:8] + "C" + from_a[9:]]
    )
    assert methods == [MASKED_MARGINAL, MASKED_MARGINAL]
    assert scores[0] > 10 and scores[1] < -10
    # deleting a disfavoured base: the span PLL drops its (very negative) log-probability
    scores, methods = zero_shot(model, tokenizer, "mlm", ["AAAACAAAA"], ["AAAAAAAA"])
    assert methods == [SPAN_PLL] and scores[0] > 10


def test_sequence_llr_of_a_causal_lm_prefers_the_favoured_base(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from dnatune.corpus.tokenizers import DnaTokenizer

    tok_dir = make_tokenizer(tmp_path / "tok", CHAR)
    tokenizer = DnaTokenizer.from_pretrained(tok_dir)
    hf = tokenizer.hf
    config = GPT2Config(
        vocab_size=len(hf), n_positions=64, n_embd=16, n_layer=1, n_head=2,
        tie_word_embeddings=False, pad_token_id=hf.pad_token_id,
    )  # fmt: skip
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # logits = 20 for A, 0 for every other token, whatever the context
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.zero_()
        model.transformer.ln_f.bias[0] = 1.0
        model.lm_head.weight.zero_()
        model.lm_head.weight[hf.convert_tokens_to_ids("A"), 0] = 20.0
    scores, methods = zero_shot(
        model, tokenizer, "clm", ["AAAAGAAAA", "AAAACAAAA"], ["AAAAAAAAA", "AAAAAAAA"]
    )
    assert methods == ["sequence_llr", "sequence_llr"]
    assert scores[0] == pytest.approx(20.0, abs=0.1) and scores[1] > 19


def test_window_longer_than_the_model_is_an_error(tmp_path):
    model, tokenizer = biased_mlm(tmp_path)
    with pytest.raises(ValueError, match="lower apply.variants.window"):
        zero_shot_scores(model, tokenizer, "mlm", ["A" * 100], ["C" * 100], 80, 4)


def test_supervised_delta_is_alt_minus_ref_of_the_cells_score(tmp_path):
    from dnatune.train.models import load_sequence_classifier

    tok = make_tokenizer(tmp_path / "tok", CHAR)
    base = make_model(tmp_path / "base", tok, "bert")
    model, tokenizer = load_sequence_classifier(base, 2, "single_label_classification", False, 0)
    cell = tmp_path / "cell" / "model"
    model.save_pretrained(cell)
    tokenizer.save_pretrained(cell)
    alleles = pd.DataFrame(
        {"ref_window": ["ACGTACGTAA", "ACGT"], "alt_window": ["ACGTCCGTAA", "ACGT"]}
    )
    delta = scorers.supervised(alleles, cell, "binary", batch_size=2)
    loaded, tok2 = scorers.load_cell(cell, "binary")
    ref = scorers.task_scores(loaded, tok2, "binary", ["ACGTACGTAA"], 1)
    alt = scorers.task_scores(loaded, tok2, "binary", ["ACGTCCGTAA"], 1)
    assert delta[0] == pytest.approx(alt[0] - ref[0]) and delta[0] != 0
    assert delta[1] == 0


def test_scores_merge_into_a_vcf_pysam_reads_back(tmp_path, genome):
    vcf = write_vcf(
        tmp_path / "v.vcf",
        ["chr1\t21\tsnv\tA\tC,G\t.\t.\tAF=0.1,0.2;BROKEN", "chr1\t1\tedge\tA\tT\t.\t.\t.",
         "chr1\t6\tbad\tG\tA\t.\t.\t."],
    )  # fmt: skip
    alleles_path = tmp_path / "alleles.parquet"
    assert variants.index_variants(vcf, genome, alleles_path, 20, "flag", "BROKEN") == 4
    model, tokenizer = biased_mlm(tmp_path)
    model.save_pretrained(tmp_path / "biased")
    tokenizer.save_pretrained(tmp_path / "biased")
    scorer = {"name": "ZS_m_pretrained", "kind": "zero_shot", "model_dir": str(tmp_path / "biased"),
              "reinitialise": False, "seed": 0}  # fmt: skip
    chunks = [tmp_path / f"c{i}.parquet" for i in range(2)]
    for i, path in enumerate(chunks):
        variants.score_chunk(alleles_path, i, 2, scorer, path, batch_size=8)
    out_vcf, out_tsv = tmp_path / "scores.vcf.gz", tmp_path / "scores.tsv"
    variants.merge_scores(
        vcf, genome, alleles_path, {"ZS_m_pretrained": chunks}, {"ZS_m_pretrained": "LLR"},
        out_vcf, out_tsv,
    )  # fmt: skip
    with gzip.open(out_vcf, "rt") as handle:
        assert handle.readline().startswith("##fileformat=VCF")
    with pysam.VariantFile(str(out_vcf)) as reader:
        assert reader.header.info["ZS_m_pretrained"].description == "LLR"
        assert reader.header.info["VE_CLIPPED"].type == "Flag"
        records = list(reader)
    assert [(r.pos, r.alts) for r in records] == [
        (21, ("C",)),
        (21, ("G",)),
        (1, ("T",)),
        (6, ("A",)),
    ]
    assert [r.info["AF"] for r in records[:2]] == [pytest.approx((0.1,)), pytest.approx((0.2,))]
    assert all("BROKEN" in r.info for r in records[:2]) and "BROKEN" not in records[2].info
    assert records[2].info["VE_CLIPPED"] and "VE_CLIPPED" not in records[0].info
    assert (
        records[3].info["VE_STATUS"] == "ref_mismatch" and "ZS_m_pretrained" not in records[3].info
    )
    assert records[0].info["ZS_m_pretrained"] < -10 < 10 < records[2].info["ZS_m_pretrained"] + 30
    table = pd.read_csv(out_tsv, sep="\t")
    assert table["ZS_m_pretrained"].notna().tolist() == [True, True, True, False]
    assert table.loc[2, "ZS_m_pretrained"] == pytest.approx(
        records[2].info["ZS_m_pretrained"], rel=1e-4
    )


def test_auroc_ranks_by_minus_the_score(tmp_path):
    table = pd.DataFrame({
        "truth": [True] * 5 + [False] * 5,
        "group": ["x", "x", "y", "y", "y", "x", "x", "y", "y", "y"],
        "ZS_good": [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5],
        "ZS_bad": [5, 4, 3, 2, 1, -1, -2, -3, -4, -5],
    })  # fmt: skip
    table.to_csv(tmp_path / "scores.tsv", sep="\t", index=False)
    scorers_ = [{"name": n, "kind": "zero_shot", "model": "m", "variant": v}
                for n, v in (("ZS_good", "pretrained"), ("ZS_bad", "scratch"))]  # fmt: skip
    out = variant_auroc(tmp_path / "scores.tsv", scorers_, tmp_path / "auroc.tsv", 100, 0.95)
    assert list(out["group"]) == ["all", "x", "y"] * 2
    assert list(out["auroc"]) == [1.0] * 3 + [0.0] * 3
    assert list(out["n_broken"]) == [5, 2, 3] * 2 and list(out["n_background"]) == [5, 2, 3] * 2
    assert json.loads(out.to_json(orient="records"))[0]["ci_low"] <= 1.0


@pytest.mark.parametrize(
    ("apply", "error"),
    [
        ({"variants": {"vcf": "x.vcf", "genome": "mine"}}, r"apply\.variants\.genome': unknown genome 'mine'"),
        ({"variants": {"vcf": "simulated", "genome": "real"}}, r"'simulated' needs a simulate genome"),
        ({"models": ["nope"], "variants": {"vcf": "simulated", "genome": "demo"}}, r"apply\.models': unknown model 'nope'"),
        (
            {"cells": [{"task": "promoter", "model": "tiny", "variant": "pretrained", "fraction": 0.5, "seed": 0}],
             "variants": {"vcf": "simulated", "genome": "demo"}},
            r"apply\.cells\[0\]': promoter/tiny/pretrained/f0\.5/s0 is not a language-model cell",
        ),
    ],
)  # fmt: skip
def test_apply_cross_references_are_checked(apply, error):
    from conftest import tiny_config

    from dnatune.apply.cells import check_apply
    from dnatune.apply.variant_plan import check_variants_config
    from dnatune.config import ConfigError, validate_config

    config = tiny_config()
    config["genomes"]["real"] = {"path": "genome.fa"}
    config["apply"] = apply
    config = validate_config(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")
    with pytest.raises(ConfigError, match=error):
        check_apply(config)
        check_variants_config(config)


def test_scorers_default_to_every_model_variant_and_the_largest_fraction_first_seed():
    from conftest import tiny_config

    from dnatune.apply.variant_plan import supervised_scorers, zero_shot_scorers
    from dnatune.config import validate_config

    config = tiny_config()
    config["finetune"].update(label_fractions=[0.5, 1.0], seeds=[1, 0])
    config["apply"] = {"variants": {"vcf": "simulated", "genome": "demo"}}
    config = validate_config(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")
    assert [s["name"] for s in zero_shot_scorers(config)] == [
        "ZS_tiny_scratch",
        "ZS_tiny_pretrained",
    ]
    assert [s["cell"] for s in supervised_scorers(config)] == [
        "promoter/tiny/scratch/f1/s0",
        "promoter/tiny/pretrained/f1/s0",
    ]
    config["apply"]["variants"]["supervised"] = False
    assert supervised_scorers(config) == []


def test_truth_or_group_info_the_header_lacks_is_an_error(tmp_path, genome):
    vcf = write_vcf(tmp_path / "v.vcf", ["chr1\t5\t.\tA\tC\t.\t.\t."])
    with pytest.raises(VariantInputError, match=r"names INFO 'ELEMENT'.*fields are AF, BROKEN"):
        read_alleles(vcf, genome, window=20, truth="BROKEN", group="ELEMENT")
