"""The figures of a model's evaluation: confusion matrix and learning curve (PNG)."""

from __future__ import annotations

from pathlib import Path

from stance.io import atomic_path
from stance.training.evaluate import Evaluation


def plot_confusion(ev: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = ev.summary
    classes = s["classes"]
    cm = ev.confusion
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=100)
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            dark = cm[i, j] > cm.max() / 2
            ax.text(
                j, i, str(cm[i, j]), ha="center", va="center", color="white" if dark else "black"
            )
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted stance")
    ax.set_ylabel("labeled stance")
    m = s["metrics"]
    ax.set_title(
        f"{s['model']}: {s['cv']['description']}\n"
        f"f_avg {m['f_avg']:.2f}, macro-F1 {m['macro_f1']:.2f}",
        fontsize=9,
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def plot_curve(ev: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = ev.summary
    curve = ev.curve
    fig, ax = plt.subplots(figsize=(5.2, 3.8), dpi=100)
    ax.plot(curve["train_sentences"], curve["macro_f1"], marker="o", label="macro-F1")
    ax.plot(curve["train_sentences"], curve["f_avg"], marker="s", linestyle="--", label="f_avg")
    ax.set_xlabel("labeled sentences in the training part (mean over folds)")
    ax.set_ylabel("score on held-out articles")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"{s['model']}: learning curve, {s['cv']['description']}", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
