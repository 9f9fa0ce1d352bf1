"""The ``paper`` preset follows Table 1's protocol; ``with_paper_augmentation`` gives Table 2's "*"."""

from __future__ import annotations

from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.engine.presets import preset, with_paper_augmentation

AUGMENTATION_FIELDS = {
    ("data", "scale_min"): 0.5,
    ("data", "scale_max"): 2.0,
    ("data", "hflip"): True,
    ("train", "eval_multiscale"): True,
    ("train", "run_name"): "full-resnet101-seed0-augmented",  # its own run directory
}


def paper():
    return preset("paper", variant="full", data_root="/x")


def test_paper_preset_trains_on_crops_only() -> None:
    run = paper()
    assert run.data.scale_min == 1.0
    assert run.data.scale_max == 1.0
    assert run.data.hflip is False
    assert (run.data.crop_height, run.data.crop_width) == (480, 480)


def test_paper_preset_trains_in_fp32_and_evaluates_single_scale() -> None:
    run = paper()
    assert run.train.amp is False
    assert run.train.eval_multiscale is False


def test_paper_preset_for_every_variant_keeps_the_protocol() -> None:
    for variant in ("baseline", "ssb", "ssb_bdb", "full"):
        run = preset("paper", variant=variant, data_root="/x")
        assert run.model.variant == variant
        assert (run.data.scale_min, run.data.scale_max, run.data.hflip) == (1.0, 1.0, False)
        assert (run.train.amp, run.train.eval_multiscale) == (False, False)


def test_with_paper_augmentation_sets_table2_star() -> None:
    run = with_paper_augmentation(paper())
    assert run.data.scale_min == 0.5
    assert run.data.scale_max == 2.0
    assert run.data.hflip is True
    assert run.train.eval_multiscale is True


def test_with_paper_augmentation_changes_nothing_else() -> None:
    before, after = config_to_dict(paper()), config_to_dict(with_paper_augmentation(paper()))
    assert before.keys() == after.keys()
    changed = set()
    for section in before:
        assert before[section].keys() == after[section].keys()
        for name, value in before[section].items():
            if (section, name) in AUGMENTATION_FIELDS:
                assert after[section][name] == AUGMENTATION_FIELDS[section, name]
                changed.add((section, name))
            else:
                assert after[section][name] == value, f"{section}.{name} changed"
    assert changed == set(AUGMENTATION_FIELDS)
    # Each of the four fields really changes from the paper preset.
    for section, name in AUGMENTATION_FIELDS:
        assert before[section][name] != after[section][name]


def test_with_paper_augmentation_leaves_its_input_alone_and_is_idempotent() -> None:
    run = paper()
    augmented = with_paper_augmentation(run)
    assert config_to_dict(run) == config_to_dict(paper())
    assert with_paper_augmentation(augmented) == augmented
