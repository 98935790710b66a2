"""Typed, validated configuration: params.yaml reaches the code once, here, at the stage boundary.

Every section of params.yaml has a pydantic model that forbids unknown keys, refuses wrong types
and checks ranges. A failure becomes a one-line :class:`ConfigError` naming the key, the value
and what is allowed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genbench.core.errors import ConfigError

DATASETS = ("mnist5k", "digits", "mnist", "fashion_mnist", "cifar10")
#: the stages beyond the model chains that run only when params.yaml's ``studies`` lists them
#: (each has a :class:`StudyView`); coverage, claims and report always run
STUDIES = ("toys", "cluster", "arithmetic", "tangent_prop", "text", "captions", "gan_studies")


#: a layer's size (units or channels): ≥ 1, so `hidden: [0]` is refused before training, not
#: trained as a network with an empty layer
Units = Annotated[int, Field(ge=1)]


class Section(BaseModel):
    """Base of every config section: strict types, no unknown keys, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TranslationConfig(Section):
    """The image-to-image domains built from a dataset (seeds 002/004).

    Paired tasks derive their input from each image: ``edges`` (the Sobel gradient magnitude of
    the digit), ``sr`` (the image average-pooled by ``sr_factor``), ``inpaint`` (the image with
    a ``block`` x ``block`` square hidden). ``unpaired`` names a second real dataset, resized to
    this one's shape, as the other domain of unpaired translation (null = none).
    """

    edges: Literal["sobel"] = "sobel"
    sr_factor: int = Field(default=4, ge=2)
    block: int = Field(default=12, ge=1)
    unpaired: Literal["mnist5k", "digits", "mnist", "fashion_mnist", "cifar10"] | None = None
    unpaired_margin: int = Field(default=0, ge=0)  # black border around the resized other domain


class DataConfig(Section):
    name: Literal["mnist5k", "digits", "mnist", "fashion_mnist", "cifar10"]
    val_fraction: float = Field(gt=0, lt=0.5)
    test_fraction: float = Field(gt=0, lt=0.5)
    # Expected sha256 of the raw files (images.npy, labels.npy); null = trust the first download.
    sha256: dict[str, str] | None = None
    translation: TranslationConfig = TranslationConfig()

    @model_validator(mode="after")
    def _other_domain(self):
        if self.translation.unpaired == self.name:
            raise ValueError(f"translation.unpaired = {self.name!r}: the other domain must be "
                             f"another dataset")
        return self


class BudgetConfig(Section):
    name: str
    max_steps: int | None = Field(default=None, ge=1)  # caps every model's steps; null = their own
    evaluator_epochs: int = Field(ge=1)
    n_samples: int = Field(ge=20)
    # samples per learning-curve point (train.curve_points of them per model)
    curve_samples: int = Field(default=500, ge=20)
    # the datasets a budget is made for (null = any): budget=paper needs the full MNIST
    data: list[str] | None = None
    # per-model settings over conf/model/<name>.yaml (steps, batch_size: the papers' schedules),
    # merged into params' `models` sections when params are validated
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # every trained model without a step count in `models`: this many passes over the train
    # split at its batch size (null = its configured steps)
    epochs: int | None = Field(default=None, ge=1)


class EngineConfig(Section):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    checkpoint_every: int = Field(default=500, ge=1)
    log_every: int = Field(default=25, ge=1)
    progress: bool = True
    # torch intra-op threads of every stage process. 1 by default: `make repro` runs one stage
    # per core, and a fixed count keeps results bit-identical however the stages are scheduled
    # (reductions split by thread count round differently); 0 = torch's default (every core).
    threads: int = Field(default=1, ge=0)
    # training steps in fp32, bf16 autocast, or auto: per model kind, what was measured faster
    # without a worse metric (each model class's cpu_precision, genbench.core.precision)
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # processes per training (torchrun workers, data-parallel: genbench.core.distributed); the
    # global batch is models.<m>.batch_size whatever nproc is
    nproc: int = Field(default=1, ge=1)
    # learning curve: the model's state kept at this many evenly spaced steps (the last one
    # included), each measured by its evaluate stage (0 = none)
    curve_points: int = Field(default=5, ge=0)


class MixingConfig(Section):
    """Markov-chain samplers (GSN, RBM): chains run from noise, each state labelled by the
    evaluator's classifier."""

    chains: int = Field(default=20, ge=1)
    steps: int = Field(default=200, ge=2)


class EvaluatorConfig(Section):
    backbone: Literal["classifier", "inception"] = "classifier"
    inception_weights: str | None = None  # local path of torch-fidelity's pt_inception weights
    batch_size: int = Field(default=128, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    width: int = Field(default=32, ge=4)
    feature_dim: int = Field(default=128, ge=8)
    pr_k: int = Field(default=3, ge=1)  # k of the k-NN manifolds of precision/recall
    kid_subsets: int = Field(default=50, ge=1)
    kid_subset_size: int = Field(default=500, ge=2)
    mixing: MixingConfig = MixingConfig()


class InterpolationConfig(Section):
    pairs: int = Field(default=200, ge=1)  # test-image pairs
    points: int = Field(default=9, ge=3)  # points per path, endpoints included


class TangentsConfig(Section):
    points: int = Field(default=100, ge=1)  # test images whose encoder Jacobian is decomposed
    show: int = Field(default=5, ge=1)  # right-singular vectors drawn per image


class InpaintingConfig(Section):
    images: int = Field(default=200, ge=1)
    region: Literal["bottom", "top", "left", "right", "center"] = "bottom"  # the hidden part
    steps: int = Field(default=200, ge=0)  # gradient steps on the code h
    lr: float = Field(default=0.05, gt=0)


class AnomalyConfig(Section):
    models: list[str] = ["ae", "dae", "vae"]  # retrained one-class for each normal class
    normal_class: int | None = Field(default=None, ge=0)  # null = every class in turn
    steps: int = Field(default=600, ge=1)  # per one-class model (capped by budget.max_steps)


class FinetuneConfig(Section):
    models: list[str] = ["stacked_ae", "ae"]  # encoders fine-tuned as classifiers
    labels: list[int] = Field(default=[100, 1000], min_length=1)  # labelled train images
    repeats: int = Field(default=3, ge=1)  # label draws (and random inits) per size
    steps: int = Field(default=300, ge=1)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, gt=0)


class RobustnessConfig(Section):
    # corruption -> level (σ or pixel fraction) applied to test images before reconstruction
    levels: dict[str, float] = {"gaussian": 0.5, "masking": 0.5, "salt_pepper": 0.2}


class AnalysisConfig(Section):
    """The autoencoder analyses (in stage ``evaluate@<model>``); each runs where the model has what
    it needs (an encoder, a decoder) and, for the costly ones, where it is listed."""

    interpolation: InterpolationConfig = InterpolationConfig()
    tangents: TangentsConfig = TangentsConfig()
    inpainting: InpaintingConfig = InpaintingConfig()
    anomaly: AnomalyConfig = AnomalyConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    robustness: RobustnessConfig = RobustnessConfig()
    probe_max_iter: int = Field(default=1000, ge=1)  # logistic regression of the linear probe
    # the analyses an extra-seed stage runs (null = every one that applies): those the claims
    # read (a test checks conf/claims.yaml against it); the main chains run them all
    for_seeds: list[str] | None = None


class ClusterConfig(Section):
    """Stage ``cluster``: k-means and Ward clustering of pixels, PCA codes and every selected
    model's codes (its ``encode``), scored against the labels."""

    points: int = Field(default=2000, ge=10)  # test images clustered (Ward needs O(n²) memory)
    pca_dim: int = Field(default=32, ge=1)  # the PCA baseline's code size
    kmeans_init: int = Field(default=10, ge=1)  # k-means restarts (the best inertia is kept)


class ArithmeticConfig(Section):
    """Stage ``arithmetic``: attribute vectors in a model's code space (Wu; *Lecture 16*)."""

    models: list[str] = ["vae", "aae", "dcgan", "cgan", "infogan"]  # those selected run
    codes: int = Field(default=2000, ge=20)  # codes whose mean per class / attribute is taken
    apply: int = Field(default=100, ge=1)  # new codes per class the vectors are added to
    thick_quantile: float = Field(default=0.25, gt=0, lt=0.5)  # ink share: thin/thick tails


class TangentPropConfig(Section):
    """Stage ``tangent_prop`` (Simard et al. 1992; seed 002): a classifier trained with a
    penalty on its outputs' derivatives along tangent vectors, against the same classifier
    without it."""

    encoder: str = "cae"  # the model whose encoder Jacobian gives the learned tangents
    tangents: int = Field(default=3, ge=1)  # top right-singular vectors per image
    labels: list[int] = Field(default=[100, 1000], min_length=1)
    repeats: int = Field(default=3, ge=1)  # label draws and initialisations per size
    steps: int = Field(default=250, ge=1)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    hidden: int = Field(default=256, ge=1)  # the MLP classifier's hidden units
    weights: list[float] = Field(default=[0.01, 0.1], min_length=1)  # γ values of the penalty


class TextConfig(Section):
    """Stage ``text``: word2vec and doc2vec on the Lee news corpus that gensim ships, judged by
    the Lee et al. (2005) human document similarities and WordSim-353."""

    vector_size: int = Field(default=100, ge=2)
    window: int = Field(default=5, ge=1)
    min_count: int = Field(default=2, ge=1)
    epochs: int = Field(default=40, ge=1)  # word2vec and doc2vec passes
    negative: int = Field(default=5, ge=0)
    infer_epochs: int = Field(default=100, ge=1)  # doc2vec inference passes per test document
    repeats: int = Field(default=3, ge=1)  # seeds of every model


class Line2dConfig(Section):
    steps: int = Field(default=30, ge=1)  # alternating D/G updates
    lr: float = Field(default=0.3, gt=0)  # plain SGD
    batch_size: int = Field(default=1024, ge=1)
    loss: str = "non_saturating"


class MixturesConfig(Section):
    datasets: list[Literal["ring", "grid"]] = ["ring", "grid"]
    train_points: int = Field(default=10000, ge=10)
    samples: int = Field(default=2500, ge=10)  # generated points scored
    min_samples: int = Field(default=20, ge=1)  # high-quality samples for a mode to count
    steps: int = Field(default=2000, ge=1)
    batch_size: int = Field(default=256, ge=1)
    models: dict[str, dict[str, Any]]  # variant -> a GAN model section (kind: gan, arch: mlp)


class ToysConfig(Section):
    """The 2-D GAN experiments of stage ``toys``."""

    line2d: Line2dConfig = Line2dConfig()
    mixtures: MixturesConfig


class MlflowConfig(Section):
    enabled: bool = True
    experiment: str = "genbench"
    # null = sqlite database mlflow.db at the repository root (built from $DVC_ROOT).
    tracking_uri: str | None = None


class Params(Section):
    seed: int = Field(ge=0)
    data: DataConfig
    budget: BudgetConfig
    train: EngineConfig
    evaluator: EvaluatorConfig
    mlflow: MlflowConfig
    analysis: AnalysisConfig
    toys: ToysConfig
    cluster: ClusterConfig = ClusterConfig()
    arithmetic: ArithmeticConfig = ArithmeticConfig()
    tangent_prop: TangentPropConfig = TangentPropConfig()
    text: TextConfig = TextConfig()
    models: dict[str, dict[str, Any]]
    # the studies that run (conf/toolbox: all of STUDIES, or none for a one-model experiment)
    studies: list[Literal[STUDIES]] = Field(default_factory=lambda: list(STUDIES))
    # extra training seeds of the models the claims compare (stage seed@<model>-<seed>); the
    # main chains keep `seed`. `seeded`: those models, one key each, added by their conf/model
    # file (defaults: /seeded@_global_.seeded.<name>), so only selected models appear.
    seeds: list[int] = Field(default_factory=list)
    seeded: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # seeds beyond `seeds` for the seeded models whose claims need more (stage
    # seed_more@<model>-<seed>): with 5 seeds a one-sided Wilcoxon signed-rank test can reach
    # p < 0.05, with 3 it cannot (its smallest p is 1/8). `more_seeded`: added by the conf/model
    # file (defaults: /seeded@_global_.more_seeded.<name>).
    more_seeds: list[int] = Field(default_factory=list)
    more_seeded: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _budget(self):
        b = self.budget
        if b.data is not None and self.data.name not in b.data:
            raise ValueError(f"budget = {b.name}: made for data {', '.join(b.data)}, not "
                             f"{self.data.name} (-S data={b.data[0]})")
        for name, over in b.models.items():  # the paper's schedule over the lecture-scale one
            if name in self.models:
                self.models[name] = {**self.models[name], **over}
        if b.epochs is not None:  # the epoch rule where no step count is given, at train time
            for name, section in self.models.items():
                if "steps" not in b.models.get(name, {}) and section.get("steps"):
                    section["epochs"] = b.epochs
        return self

    @model_validator(mode="after")
    def _seeds(self):
        if len(set(self.seeds)) != len(self.seeds) or any(s < 0 for s in self.seeds):
            raise ValueError(f"seeds = {self.seeds}: distinct seeds ≥ 0")
        if self.seed in self.seeds:
            raise ValueError(f"seeds = {self.seeds}: the main seed {self.seed} runs in the "
                             f"main chains; list only the extra seeds")
        extra = sorted(set(self.seeded) - set(self.models))
        if extra:
            raise ValueError(f"seeded: {', '.join(extra)} not in models")
        more = self.more_seeds
        if len(set(more)) != len(more) or set(more) & {self.seed, *self.seeds} \
                or any(s < 0 for s in more):
            raise ValueError(f"more_seeds = {more}: distinct seeds ≥ 0, none of seed and seeds")
        extra = sorted(set(self.more_seeded) - set(self.seeded))
        if extra:
            raise ValueError(f"more_seeded: {', '.join(extra)} not in seeded (a model with more "
                             f"seeds runs the usual ones too)")
        return self


# ----------------------------------------------------------------------------- stage views
# Each stage reads one *view*: the slice of params.yaml it uses, written by the ``params`` stage
# (stages/params.py) to params/<stage>.json (params/<stage>/<model>.json for a model's chain).
# A stage depends on its view file, so DVC reruns exactly the stages whose slice changed, and
# the code cannot read a setting DVC does not track. The view also carries the hash of every
# source file the stage runs (``code``, :mod:`genbench.core.code`): its one code dependency. (It also spares DVC a parse of the whole
# params.yaml for each of the ~125 stages: the no-op `dvc repro` went from 11 s to ~3 s.)
class StepsBudget(Section):
    max_steps: int | None = Field(default=None, ge=1)


class SampleBudget(Section):
    n_samples: int = Field(ge=20)


class EvaluateBudget(Section):
    name: str  # logged to MLflow with the run
    n_samples: int = Field(ge=20)
    max_steps: int | None = Field(default=None, ge=1)
    curve_samples: int = Field(default=500, ge=20)


class EvaluatorBudget(Section):
    evaluator_epochs: int = Field(ge=1)
    n_samples: int = Field(ge=20)


class NamedBudget(Section):
    name: str


class Device(Section):
    """train.* keys of a stage that runs networks but trains nothing: sampling."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=1, ge=0)


class JudgeEngine(Section):
    """train.* keys of the stages that train in fp32 whatever ``train.precision`` says (the
    evaluator's classifiers, the 2-D toys): precision is not part of their view."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    checkpoint_every: int = Field(default=500, ge=1)
    log_every: int = Field(default=25, ge=1)
    progress: bool = True
    threads: int = Field(default=1, ge=0)

    def fp32(self) -> EngineConfig:
        return EngineConfig(**self.model_dump(), precision="fp32")


class View(Section):
    """Base of the stage views: each field is a params.yaml section, its type the keys of it
    the stage reads; ``code``: ``{source file: hash}`` of the code the stage runs (written by
    the params stage; empty for a view made from a whole params file)."""

    code: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, params: Params, model: str | None = None,
           code: dict[str, str] | None = None) -> "View":
        """This stage's slice of the validated ``params`` (``model``: a model's own view)."""
        full = params.model_dump()
        if model is not None:
            full["models"] = {model: full["models"][model]}
        return cls.model_validate({**{k: _slice(full[k], f.annotation)
                                      for k, f in cls.model_fields.items()
                                      if k not in ("code", "selected")},
                                   "code": code or {}, **cls._extra(params)})

    @classmethod
    def _extra(cls, params: Params) -> dict:
        """Fields of the view that are not a params.yaml section (none here)."""
        return {}


class StudyView(View):
    """A study's view (a stage of :data:`STUDIES`): ``selected`` = params.yaml's ``studies``
    lists it. An unselected study writes a stub saying so (:func:`genbench.cli.stage_main`)
    instead of running; its view says only that, so its settings do not rerun it."""

    study: ClassVar[str]
    selected: bool = True

    @classmethod
    def _extra(cls, params: Params) -> dict:
        return {"selected": cls.study in params.studies}

    def stub(self) -> dict:
        """What the params stage writes for an unselected study: that alone, so neither its
        settings nor its code rerun it while it is off."""
        return {"selected": False}


def _slice(value: Any, ann: Any) -> Any:
    """``value`` (a params section) reduced to the fields of ``ann`` (a section type)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(value, dict):
        return {k: _slice(value[k], f.annotation) for k, f in ann.model_fields.items()
                if k in value}
    return value


class DownloadView(View):
    data: DataConfig


class PreprocessView(View):
    seed: int = Field(ge=0)
    data: DataConfig


class EvaluatorView(View):
    seed: int = Field(ge=0)
    train: JudgeEngine
    evaluator: EvaluatorConfig
    budget: EvaluatorBudget


class TrainView(View):
    """A model's training: its own section only (``models`` holds one entry)."""

    seed: int = Field(ge=0)
    data: DataConfig
    train: EngineConfig
    budget: StepsBudget
    models: dict[str, dict[str, Any]]


class SampleView(View):
    """Sampling: the model's config comes with its model file."""

    seed: int = Field(ge=0)
    train: Device
    budget: SampleBudget


class EvaluateView(View):
    """Evaluation and analyses: the model's config comes with its model file (the one-class
    anomaly analysis retrains that config)."""

    seed: int = Field(ge=0)
    train: EngineConfig
    evaluator: EvaluatorConfig
    analysis: AnalysisConfig
    budget: EvaluateBudget
    mlflow: MlflowConfig


class ToysView(StudyView):
    study: ClassVar[str] = "toys"
    seed: int = Field(ge=0)
    seeds: list[int] = Field(default_factory=list)  # the mixtures rerun with each (claims)
    train: JudgeEngine
    toys: ToysConfig
    budget: StepsBudget


class ClusterView(StudyView):
    """The clustering of codes: the selected models (their kinds say which have an encoder)."""

    study: ClassVar[str] = "cluster"

    seed: int = Field(ge=0)
    train: Device
    cluster: ClusterConfig
    models: dict[str, dict[str, Any]]
    mlflow: MlflowConfig


class ArithmeticView(StudyView):
    study: ClassVar[str] = "arithmetic"
    seed: int = Field(ge=0)
    train: Device
    arithmetic: ArithmeticConfig
    models: dict[str, dict[str, Any]]
    mlflow: MlflowConfig


class TangentPropView(StudyView):
    study: ClassVar[str] = "tangent_prop"
    seed: int = Field(ge=0)
    train: JudgeEngine  # trains a classifier in fp32, as the evaluator
    tangent_prop: TangentPropConfig
    budget: StepsBudget
    models: dict[str, dict[str, Any]]
    mlflow: MlflowConfig


class TextView(StudyView):
    study: ClassVar[str] = "text"
    seed: int = Field(ge=0)
    text: TextConfig
    budget: StepsBudget
    mlflow: MlflowConfig


class ClaimsView(View):
    """The claims: the main seed and the extra ones, the selected models and those the claims
    compare over seeds, where MLflow records the verdicts."""

    seed: int = Field(ge=0)
    seeds: list[int] = Field(default_factory=list)
    seeded: dict[str, dict[str, Any]] = Field(default_factory=dict)
    more_seeds: list[int] = Field(default_factory=list)
    more_seeded: dict[str, dict[str, Any]] = Field(default_factory=dict)
    models: dict[str, dict[str, Any]]
    mlflow: MlflowConfig


class DataName(Section):
    name: Literal["mnist5k", "digits", "mnist", "fashion_mnist", "cifar10"]


class ReportView(View):
    data: DataName
    budget: NamedBudget
    models: dict[str, dict[str, Any]]


class CoverageView(View):
    """Stage coverage: the selection, and the evaluator settings its sample metrics use (the
    reference subset's seed, k of the k-NN balls)."""

    seed: int = Field(ge=0)
    evaluator: EvaluatorConfig
    models: dict[str, dict[str, Any]]


class GanStudiesView(StudyView, ReportView):
    """Stage gan_studies: the selection (each studied model's own settings come with its
    evaluate view); its own file, so the report's code does not rerun it."""

    study: ClassVar[str] = "gan_studies"


class CaptionsView(StudyView, PreprocessView):
    """Stage captions: the data settings (the preprocess stage's), its own file so that its
    code and its selection are its own."""

    study: ClassVar[str] = "captions"


#: view file (relative to the params/ folder) -> its class; ``{model}``: one file per model.
#: The stage is the file's first name part (``train/{model}.json``: stages/train.py).
VIEWS: dict[str, type[View]] = {
    "download.json": DownloadView, "preprocess.json": PreprocessView,
    "evaluator.json": EvaluatorView, "train/{model}.json": TrainView,
    "sample/{model}.json": SampleView, "evaluate/{model}.json": EvaluateView,
    "toys.json": ToysView, "report.json": ReportView, "cluster.json": ClusterView,
    "arithmetic.json": ArithmeticView, "tangent_prop.json": TangentPropView,
    "text.json": TextView, "claims.json": ClaimsView, "gan_studies.json": GanStudiesView,
    "coverage.json": CoverageView, "captions.json": CaptionsView}


def write_views(params: Params, out_dir: Path | str, sources=None) -> list[str]:
    """Every stage's view of ``params`` into ``out_dir`` (swapped in whole); the file names.
    ``sources`` (a :class:`genbench.core.code.Sources`): the code hashes each view carries."""
    from genbench.core.io import write_dir_atomically, write_json

    names: list[str] = []

    def fill(folder: Path) -> None:
        for pattern, cls in VIEWS.items():
            stage = pattern.split("/")[0].removesuffix(".json")
            for model in (params.models if "{model}" in pattern else [None]):
                name = pattern.format(model=model)
                kind = params.models[model]["kind"] if model is not None else None
                code = sources.fingerprint(stage, kind) if sources is not None else None
                view = cls.of(params, model, code)
                write_json(folder / name, view.stub() if getattr(view, "selected", True) is False
                           else view.model_dump(mode="json"))
                names.append(name)

    write_dir_atomically(Path(out_dir), fill)
    return names


def format_validation_error(err: ValidationError, prefix: str, model_cls=None) -> str:
    """One line: ``key = value: what is wrong/allowed`` for the first error pydantic found."""
    e = err.errors()[0]
    key = ".".join([prefix, *map(str, e["loc"])] if prefix else map(str, e["loc"]))
    msg = e["msg"]
    if not e["loc"]:  # a check across keys (a model validator): its message names them
        msg = msg.removeprefix("Value error, ")
        return f"{prefix}: {msg}" if prefix else msg
    if e["type"] == "extra_forbidden":
        allowed = f"; allowed keys: {', '.join(model_cls.model_fields)}" if model_cls else ""
        return f"{key}: unknown key{allowed}"  # the value may be a whole section: not echoed
    if e["type"] == "missing":
        return f"{key}: missing (required)"
    return f"{key} = {_short(e.get('input'))}: {msg}"


def _short(value: Any, limit: int = 80) -> str:
    """A value for a one-line error: its repr, or for a long mapping/list what it is (a whole
    section's dump is not the key a user needs to fix)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, dict):
        keys = ", ".join(map(str, list(value)[:6]))
        return f"a mapping of {len(value)} keys ({keys}{', …' if len(value) > 6 else ''})"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"
    return text[:limit - 1] + "…"


def validate(model_cls, data: Any, prefix: str = ""):
    """``model_cls.model_validate(data)`` with a one-line :class:`ConfigError` on failure."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        # The extra-key message names the allowed keys of the section it happened in.
        loc = err.errors()[0]["loc"]
        section = model_cls
        for part in loc[:-1]:
            field = getattr(section, "model_fields", {}).get(part)
            ann = getattr(field, "annotation", None)
            section = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
            if section is None:
                break
        raise ConfigError(format_validation_error(err, prefix, section)) from None


def repo_root() -> Path:
    """The DVC repository root: $DVC_ROOT inside a stage, else the first parent with dvc.yaml."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "dvc.yaml").exists():
            return d
    return here


def read_params(path: Path | str = "params.yaml") -> Params:
    """Read params.yaml and validate its schema: every section but the model sections, whose
    typed configs belong to the model classes (the whole file, those included, is validated by
    :func:`genbench.params.load_params`, the one entry point stages and tools use)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found (run from the repository root)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    params = validate(Params, raw)
    from genbench.core.losses import GAN_LOSSES

    if params.toys.line2d.loss not in GAN_LOSSES:
        raise ConfigError(f"toys.line2d.loss = {params.toys.line2d.loss!r}: one of "
                          f"{', '.join(GAN_LOSSES)}")
    return params


def read_model_conf(path: Path | str, tuned: bool = True) -> dict:
    """conf/model/<name>.yaml as its ``models.<name>`` section: the file without Hydra's
    ``defaults`` list (which adds the model to ``seeded``), with the values of the tuned file
    the list includes after the file's own (``/tuned/<name>@_here_``: conf/tuned/<name>.yaml,
    written by ``make tune``) unless ``tuned`` is False (the hand-set recipe alone)."""
    path = Path(path)
    section = yaml.safe_load(path.read_text()) or {}
    for entry in section.pop("defaults", None) or []:
        if tuned and isinstance(entry, str) and entry.startswith("/tuned/"):
            name = entry[len("/tuned/"):].split("@")[0]
            section.update(yaml.safe_load((path.parent.parent / "tuned" / f"{name}.yaml")
                                          .read_text()) or {})
    return section


def compose_params(overrides: list[str] | None = None, conf_dir: Path | str = "conf") -> dict:
    """Compose conf/ with Hydra exactly as ``dvc exp run`` does, as a plain dict.

    Used by the test that checks params.yaml is up to date, and by ``make params``.
    """
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(Path(conf_dir).resolve()), version_base=None):
        cfg = compose(config_name="config", overrides=overrides or [])
    return OmegaConf.to_container(cfg, resolve=True)


def write_params(path: Path | str = "params.yaml", overrides: list[str] | None = None) -> dict:
    """Regenerate params.yaml from conf/ (what ``dvc exp run`` does before running)."""
    from genbench.core.io import write_text

    params = compose_params(overrides)
    header = "# Generated from conf/ by `make params` (or by `dvc exp run`); edit conf/, not this.\n"
    write_text(path, header + yaml.safe_dump(params, sort_keys=False))
    return params
