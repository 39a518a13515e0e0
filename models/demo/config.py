"""A training run's settings, built once from train.py's flags and passed down."""
from dataclasses import dataclass
from typing import Optional, Tuple

KINDS = ("box", "point", "point_neg", "points", "prop")  # the start prompts (see prompts.start_prompt)
DEFAULT_KIND_P = (0.25, 0.30, 0.10, 0.10, 0.25)
DEFAULT_PROP_PERTURB = 0.5


@dataclass(frozen=True)
class TrainConfig:
    data: str
    out: str
    val: Optional[str] = None
    steps: Optional[int] = None
    minutes: Optional[float] = None
    batch: int = 4  # images per step
    objects: int = 3  # items per image
    lr: float = 2e-3
    seed: int = 20240611
    threads: int = 1
    eval_every: int = 0
    ending: float = 0.3  # per step, probability of an item whose object has ended
    prop_perturb: float = DEFAULT_PROP_PERTURB  # probability that a propagated mask is grown or shrunk
    no_correction: float = 0.5  # probability of a step without correction rounds
    pairs: float = 0.0  # probability of a step of slice pairs with rollouts
    hops: int = 3  # rollout hops per pair step
    kind_p: Tuple[float, ...] = DEFAULT_KIND_P  # probabilities of KINDS
    displaced: float = 0.0  # per step, probability of an item whose mask prompt was moved off its object
    absent_weight: float = 0.0  # weight of losses.absent_loss
    stop_at: int = 0
    save_every: float = 0
    checkpoint: str = ".cache/demo-weights.pt"
    init: Optional[str] = None

    @property
    def mask_always(self):
        """With the "nothing" loss on, "nothing" items always carry the mask (see losses.absent_loss)."""
        return self.absent_weight > 0

    @staticmethod
    def from_args(args):
        """From train.py's parsed flags; `--kind-p` is a comma-separated list."""
        fields = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
        fields["kind_p"] = tuple(float(v) for v in args.kind_p.split(","))
        return TrainConfig(**fields)
