"""Real data: labelled long sequences from the UCR time-series classification archive, read from files that ship
inside a PyPI package, so nothing is downloaded at run time.

`ACSF1`: electrical power consumption of home appliances, one series of 1,460 steps per recording (one input
feature per step), 10 classes (mobile phone chargers, coffee machines, computer stations, fridges and freezers,
Hi-Fi systems, CFL lamps, laptop chargers, microwave ovens, printers, televisions), 100 training and 100 test
series, 10 per class in each, as published.

Sources; cite them when using this data:

- The UCR archive: H. A. Dau, A. Bagnall, K. Kamgar, C.-C. M. Yeh, Y. Zhu, S. Gharghabi, C. A. Ratanamahatana and
  E. Keogh, "The UCR time series archive", IEEE/CAA Journal of Automatica Sinica 6(6), 2019, pp. 1293-1305.
- The original recordings (ACS-F1): C. Gisler, A. Ridi, D. Zufferey, O. Abou Khaled and J. Hennebert, "Appliance
  consumption signature database and recognition test protocols", 8th International Workshop on Systems, Signal
  Processing and their Applications (WoSSPA), IEEE, 2013. The archive's version was edited by P. Schäfer and
  U. Leser ("Fast and accurate time series classification with WEASEL", CIKM 2017).

Where the files come from: `sktime` 1.2.0 ships them as `sktime/datasets/data/ACSF1/ACSF1_{TRAIN,TEST}.ts`, and
`aeon` 1.6.0 ships byte-identical copies as `aeon/datasets/data/ACSF1/ACSF1_{TRAIN,TEST}.ts`. Either package will
do: this module only finds the package's folder (without importing the package) and parses the `.ts` text
itself, so it depends on the files being in the wheel, not on either package's loader API, and it checks their
SHA-256 so that every run of the study reads the same bytes whichever package supplied them.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from stages.core.data import SPLITS, SequenceSet
from stages.core.params import REAL_DATASETS

# Packages that bundle the UCR files, in the order they are searched; the first is the one the project pins.
PACKAGES = ("sktime", "aeon")
PINNED_PACKAGE = "sktime==1.2.0"
_DATA_FOLDER = ("datasets", "data")
# Our split names -> the archive's file suffixes: the held-out split is the archive's published test split.
_FILE_SPLITS = {"train": "TRAIN", "heldout": "TEST"}
# SHA-256 of the files as shipped by sktime 1.2.0 and aeon 1.6.0 (identical in both).
_SHA256 = {
    "ACSF1": {
        "TRAIN": "0646b90dc4843e02baed6b2ba345c5601a4991b6796565489cef1b2d92a7537b",
        "TEST": "93e8aaeb44a10af181d24a156e60da7021193cd990ca28f263fccf3b905bfebf",
    },
}


def _package_folder(package: str) -> Path | None:
    """The installed package's folder, found without importing it (importing aeon or sktime takes seconds)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def dataset_files(name: str) -> dict[str, Path]:
    """The bundled `.ts` file of each split of `name`, {"train": ..., "heldout": ...}, from the first package in
    `PACKAGES` that ships both."""
    if name not in REAL_DATASETS:
        raise ValueError(f"name: unknown real data set {name!r}; expected one of {', '.join(REAL_DATASETS)}")
    looked = []
    for package in PACKAGES:
        folder = _package_folder(package)
        if folder is None:
            looked.append(f"{package} (not installed)")
            continue
        files = {split: folder.joinpath(*_DATA_FOLDER, name, f"{name}_{suffix}.ts")
                 for split, suffix in _FILE_SPLITS.items()}
        if all(path.is_file() for path in files.values()):
            return files
        looked.append(f"{package} at {folder} (no {name} files under {'/'.join(_DATA_FOLDER)}/{name})")
    raise FileNotFoundError(
        f"the {name} data files ship inside a Python package, and none was found: looked in {'; '.join(looked)}. "
        f"Install the pinned one with: pip install '{PINNED_PACKAGE}' (or pip install -e . in this project)"
    )


def _read_ts(path: Path) -> tuple[np.ndarray, list[str]]:
    """Parse a univariate, equal-length, labelled `.ts` file of the UCR/UEA archive.

    The format: `#` comment lines, then `@key value` header lines up to `@data`, then one series per line as
    comma-separated values, a colon, and the class label. Returns the series as float64 (series, steps) and
    their labels as strings, in file order.
    """
    header: dict[str, str] = {}
    rows: list[list[float]] = []
    labels: list[str] = []
    in_data = False
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(f"{path}:{number}: expected an @header line before @data, got {line[:40]!r}")
                key, _, value = line[1:].partition(" ")
                if key.lower() == "data":
                    in_data = True
                else:
                    header[key.lower()] = value.strip()
                continue
            values, colon, label = line.rpartition(":")
            if not colon or ":" in values:
                raise ValueError(f"{path}:{number}: expected one univariate series 'v1,...,vN:label'")
            if "?" in values:
                raise ValueError(f"{path}:{number}: missing values ('?') are not supported")
            rows.append([float(value) for value in values.split(",")])
            labels.append(label.strip())
    if not in_data:
        raise ValueError(f"{path}: no @data line")
    for key in ("univariate", "equallength"):
        if header.get(key, "").lower() != "true":
            raise ValueError(f"{path}: only @{key} true files are supported (got {header.get(key)!r})")
    class_line = header.get("classlabel", "").split()
    if not class_line or class_line[0].lower() != "true":
        raise ValueError(f"{path}: expected '@classLabel true <labels>'")
    declared = set(class_line[1:])
    undeclared = sorted(set(labels) - declared)
    if undeclared:
        raise ValueError(f"{path}: labels {undeclared} are not among @classLabel {sorted(declared)}")
    lengths = {len(row) for row in rows}
    expected = int(header["serieslength"]) if "serieslength" in header else None
    if len(lengths) != 1 or (expected is not None and lengths != {expected}):
        raise ValueError(f"{path}: series lengths {sorted(lengths)} differ from each other or from "
                         f"@seriesLength {expected}")
    return np.asarray(rows, dtype=np.float64), labels


def _sort_key(labels: list[str]):
    """Sort labels numerically when every label is a number (so "10" follows "9"), else as text."""
    try:
        [float(label) for label in labels]
    except ValueError:
        return str
    return float


def load_real_dataset(name: str) -> dict[str, SequenceSet]:
    """Load the published train and test splits of `name` as {"train": ..., "heldout": ...}.

    Labels are remapped to 0..C-1 in sorted order of the original labels (the classes of both splits together),
    sequences are sorted by label (class 0 first, file order kept within a class), and inputs are standardised
    with the training split's global mean and standard deviation, shape (sequences, steps, 1), float32.
    """
    files = dataset_files(name)
    raw = {}
    for split, path in files.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        expected = _SHA256[name][_FILE_SPLITS[split]]
        if digest != expected:
            raise ValueError(f"{path}: SHA-256 {digest} differs from the published file's {expected}; the study "
                             f"pins the exact bytes (install '{PINNED_PACKAGE}')")
        raw[split] = _read_ts(path)

    all_labels = sorted({label for _, labels in raw.values() for label in labels},
                        key=_sort_key([label for _, labels in raw.values() for label in labels]))
    index = {label: i for i, label in enumerate(all_labels)}

    # Standardise with the TRAINING split's global mean and std (one pair of numbers for every step of every
    # sequence; the held-out split never informs them). Raw power values span orders of magnitude between
    # appliances, and a global scale keeps the relative amplitude between recordings, which a per-sequence
    # z-normalisation would erase. Note, though, that the archive's ACSF1 files are ALREADY z-normalised per
    # series (each series has mean 0 and population std 1; max about 12 from the bursts), so the raw wattage is
    # not recoverable from them and this step is the identity up to float rounding here. It is kept so that
    # the contract (train mean 0, std 1, test scaled like train) holds whatever file is read.
    train_values = raw["train"][0]
    mean, std = float(train_values.mean()), float(train_values.std())
    if not np.isfinite(std) or std == 0.0:
        raise ValueError(f"{files['train']}: the training inputs have no spread (std {std}); cannot standardise")

    dataset = {}
    for split in SPLITS:
        values, labels = raw[split]
        codes = np.asarray([index[label] for label in labels], dtype=np.int64)
        order = np.argsort(codes, kind="stable")
        inputs = ((values[order] - mean) / std).astype(np.float32)[:, :, None]
        dataset[split] = SequenceSet(inputs=np.ascontiguousarray(inputs), labels=codes[order])
    check_published_shape(name, dataset)
    return dataset


def check_published_shape(name: str, dataset: dict[str, SequenceSet]) -> None:
    """The files must hold what the study was validated against (stages.core.params.REAL_DATASETS): the bptt sizes and
    interleaving groups in params.yaml were checked with these numbers."""
    shape = REAL_DATASETS[name]
    for split, per_class in (("train", shape.train_per_class), ("heldout", shape.heldout_per_class)):
        sequences = dataset[split]
        expected = [label for label in range(shape.classes) for _ in range(per_class)]
        found = (sequences.inputs.shape[1:], sequences.labels.tolist())
        if found != ((shape.steps, shape.input_size), expected):
            raise ValueError(
                f"{name} {split}: expected {shape.classes} classes x {per_class} sequences of {shape.steps} steps x "
                f"{shape.input_size} features, found inputs {sequences.inputs.shape} with labels per class "
                f"{np.bincount(sequences.labels).tolist()}"
            )


def replicated(dataset: dict[str, SequenceSet], replicates: int) -> dict[str, SequenceSet]:
    """The same published split for every replicate seed, stacked like the toy modes' per-seed draws (R, N, T, I):
    on real data a seed changes the initial weights and initial states, never the data."""
    return {
        split: SequenceSet(inputs=np.stack([sequences.inputs] * replicates),
                           labels=np.stack([sequences.labels] * replicates))
        for split, sequences in dataset.items()
    }
