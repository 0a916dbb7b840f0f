"""Multimodal learning (lesson 12): matching, translating (captioning) and referencing (VQA).

* Matching: :func:`info_nce` (CLIP's symmetric contrastive loss), :func:`train_dual_encoder`,
  :func:`embed_images` / :func:`embed_texts`, :func:`recall_at_k` on a similarity matrix,
  :func:`zero_shot_predict` from written class prompts (:func:`class_embeddings`: prompt ensembles averaged).
* Translating: :func:`train_captioner` (teacher forcing + the doubly stochastic attention
  penalty of Show, Attend and Tell), :func:`greedy_captions`, :func:`beam_caption`,
  :func:`bleu4` (corpus BLEU-4, one reference), :func:`attention_hits` (does the attention
  peak of each generated shape word fall on the object it names?).
* Referencing: :func:`train_vqa`, :func:`predict_answers`, :func:`accuracy_by_type`.

The networks are in :mod:`cvlib.models.multimodal`, the generated scenes with their
text in :mod:`cvlib.data.textscenes`. ``device=None`` everywhere means the model's device.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cvlib.data.textscenes import SHAPES, TextScene, Vocabulary
from cvlib.models.clip import CLIPEncoder
from cvlib.models.multimodal import AttentionCaptioner, DualEncoder
from cvlib.models.utils import eval_mode, resolve_device
from cvlib.validate import check_images

JointEncoder = DualEncoder | CLIPEncoder
"""A model with ``encode_image`` / ``encode_text`` into one space of unit vectors."""


def _check_tokens(tokens: object, n: int | None = None, what: str = "tokens") -> torch.Tensor:
    if not isinstance(tokens, torch.Tensor) or tokens.ndim != 2 or tokens.dtype != torch.long:
        raise TypeError(
            f"{what} must be a (N, L) int64 tensor of token ids (Vocabulary.encode_batch); got {getattr(tokens, 'shape', type(tokens))}."
        )
    if n is not None and len(tokens) != n:
        raise ValueError(f"{what} has {len(tokens)} rows but there are {n} images.")
    return tokens


def info_nce(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    """CLIP's loss: the mean of image->text and text->image cross-entropies over a batch of ``B`` pairs.

    ``image_emb``, ``text_emb``: ``(B, D)`` unit vectors, row ``i`` of each is a matching pair;
    ``logit_scale`` = 1 / temperature (a number or a tensor, used as is: pass ``scale.exp()``
    for CLIP's log-parametrised one). Every other row of the batch is a negative.
    """
    if image_emb.shape != text_emb.shape or image_emb.ndim != 2:
        raise ValueError(
            f"image_emb and text_emb must both be (B, D); got {tuple(image_emb.shape)} and {tuple(text_emb.shape)}."
        )
    logits = logit_scale * image_emb @ text_emb.T
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _fit(
    model: nn.Module,
    n: int,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool,
    desc: str,
) -> list[float]:
    """Adam with a one-cycle schedule (10 % warm-up, then cosine decay) on random batches of indices ``0..n-1``; returns the loss per step."""
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1; got {steps} and {batch_size}.")
    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc=desc, disable=not progress):
        idx = torch.randint(0, n, (batch_size,), generator=order)
        loss = loss_fn(idx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses


def train_dual_encoder(
    model: DualEncoder,
    images: torch.Tensor,
    tokens: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Contrastive training on ``(N, 3, H, W)`` images in [0, 1] and their ``(N, L)`` caption ids; returns the losses."""
    check_images(images, channels=3, unit_range=True)
    _check_tokens(tokens, len(images))
    device = resolve_device(model)

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        img, txt = model(images[idx].to(device), tokens[idx].to(device))
        return info_nce(img, txt, model.logit_scale.clamp(max=math.log(100)).exp())

    return _fit(model, len(images), loss_fn, steps, batch_size, lr, seed, progress, "contrastive training")


@torch.no_grad()
def embed_images(
    model: JointEncoder, images: torch.Tensor, batch_size: int = 512, device: torch.device | str | None = None
) -> torch.Tensor:
    """``(N, 3, H, W)`` in [0, 1] -> ``(N, D)`` unit vectors (CPU).

    ``model``: anything with ``encode_image`` / ``encode_text`` returning unit vectors: a
    :class:`~cvlib.models.multimodal.DualEncoder` or a :class:`~cvlib.models.clip.CLIPEncoder`.
    """
    check_images(images, channels=3, unit_range=True)
    device = resolve_device(model, device)
    with eval_mode(model):
        return torch.cat(
            [model.encode_image(images[i : i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)]
        )


@torch.no_grad()
def embed_texts(
    model: JointEncoder, tokens: torch.Tensor, batch_size: int = 512, device: torch.device | str | None = None
) -> torch.Tensor:
    """``(N, L)`` token ids -> ``(N, D)`` unit vectors (CPU)."""
    _check_tokens(tokens)
    device = resolve_device(model, device)
    with eval_mode(model):
        return torch.cat(
            [model.encode_text(tokens[i : i + batch_size].to(device)).cpu() for i in range(0, len(tokens), batch_size)]
        )


def recall_at_k(similarity: torch.Tensor, positives: torch.Tensor, k: int = 1) -> float:
    """Share of rows whose ``k`` most similar columns include a positive.

    ``similarity``: ``(N, M)`` (row = query, column = candidate); ``positives``: ``(N, M)`` bool
    (several positives per row allowed, e.g. equal captions) or ``(N,)`` int64 with the one
    positive column per row. Ties are broken by column order (``torch.topk``).
    """
    if similarity.ndim != 2:
        raise ValueError(f"similarity must be (N, M); got {tuple(similarity.shape)}.")
    if not 1 <= k <= similarity.shape[1]:
        raise ValueError(f"k must be in 1..{similarity.shape[1]} (the number of candidates); got {k}.")
    if positives.ndim == 1:
        positives = F.one_hot(positives, similarity.shape[1]).bool()
    if positives.shape != similarity.shape:
        raise ValueError(f"positives must be (N,) or {tuple(similarity.shape)}; got {tuple(positives.shape)}.")
    top = similarity.topk(k, dim=1).indices
    return float(positives.gather(1, top).any(1).float().mean())


def class_embeddings(model: JointEncoder, prompt_tokens: Sequence[torch.Tensor]) -> torch.Tensor:
    """One unit vector per class: ``prompt_tokens[c]`` ``(P_c, L)`` -> the mean of its prompts' embeddings, renormalised; ``(C, D)``.

    With ``P_c > 1`` this is CLIP's prompt ensembling (the average is taken in embedding space).
    """
    if not prompt_tokens:
        raise ValueError("class_embeddings needs one prompt tensor per class.")
    return torch.stack([F.normalize(embed_texts(model, t).mean(0), dim=0) for t in prompt_tokens])


def zero_shot_predict(
    model: JointEncoder, images: torch.Tensor, prompt_tokens: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classify images by the class whose prompt embedding is most similar (:func:`class_embeddings`).

    Returns ``(N,)`` int64 predictions and the ``(N, C)`` cosine similarities. To compare several
    prompt sets on the same images, embed the images once (:func:`embed_images`) and multiply by
    each set's :func:`class_embeddings` instead.
    """
    sims = embed_images(model, images) @ class_embeddings(model, prompt_tokens).T
    return sims.argmax(1), sims


def _caption_loss(
    model: AttentionCaptioner, images: torch.Tensor, tokens: torch.Tensor, attention_penalty: float
) -> torch.Tensor:
    logits, alphas = model(images, tokens)
    target = tokens[:, 1:]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=0)
    if attention_penalty:
        words = (target != 0).float().unsqueeze(-1)
        loss = loss + attention_penalty * ((1 - (alphas * words).sum(1)) ** 2).mean()
    return loss


def train_captioner(
    model: AttentionCaptioner,
    images: torch.Tensor,
    tokens: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    attention_penalty: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Teacher-forced cross-entropy on ``(N, L)`` captions framed by ``<bos>``/``<eos>`` (padding 0 ignored).

    ``attention_penalty`` adds Show, Attend and Tell's doubly stochastic regulariser
    ``lambda * sum_i (1 - sum_t alpha_ti)^2`` (every region attended about once over the caption;
    here averaged over regions, so its scale differs from the paper's).
    """
    check_images(images, channels=3, unit_range=True)
    _check_tokens(tokens, len(images))
    if not bool((tokens[:, 0] == Vocabulary.bos).all()):
        raise ValueError("captions must start with <bos>: encode them with bos=True, eos=True.")
    device = resolve_device(model)
    return _fit(
        model,
        len(images),
        lambda idx: _caption_loss(model, images[idx].to(device), tokens[idx].to(device), attention_penalty),
        steps,
        batch_size,
        lr,
        seed,
        progress,
        "captioner training",
    )


@torch.no_grad()
def greedy_captions(
    model: AttentionCaptioner, images: torch.Tensor, max_len: int = 20, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Most likely word at every step. Returns ``(N, max_len)`` ids (after ``<eos>``: 0) and ``(N, max_len, L)`` attention (CPU)."""
    check_images(images, channels=3, unit_range=True)
    device = resolve_device(model)
    out_ids, out_alpha = [], []
    with eval_mode(model):
        for i in range(0, len(images), batch_size):
            feats = model.features(images[i : i + batch_size].to(device))
            h = model.start(feats)
            words = torch.full((len(feats),), Vocabulary.bos, dtype=torch.long, device=device)
            done = torch.zeros(len(feats), dtype=torch.bool, device=device)
            ids, alphas = [], []
            for _ in range(max_len):
                logits, h, alpha = model.step(feats, words, h)
                words = logits.argmax(-1)
                ids.append(torch.where(done, torch.zeros_like(words), words))
                alphas.append(alpha)
                done |= words == Vocabulary.eos
                if bool(done.all()):
                    break
            ids_t = torch.stack(ids, 1).cpu()
            alpha_t = torch.stack(alphas, 1).cpu()
            pad = max_len - ids_t.shape[1]
            out_ids.append(F.pad(ids_t, (0, pad)))
            out_alpha.append(F.pad(alpha_t, (0, 0, 0, pad)))
    return torch.cat(out_ids), torch.cat(out_alpha)


@torch.no_grad()
def beam_caption(
    model: AttentionCaptioner, image: torch.Tensor, beam: int = 3, max_len: int = 20
) -> tuple[list[int], float]:
    """Beam search for one ``(3, H, W)`` image: the ``beam`` best partial captions are kept at each step.

    Returns the ids of the best finished caption (without ``<bos>``, ending in ``<eos>``) and
    its total log-probability. ``beam=1`` is greedy decoding.
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise ValueError(f"beam_caption takes one (3, H, W) image; got {getattr(image, 'shape', type(image))}.")
    if beam < 1:
        raise ValueError(f"beam must be >= 1; got {beam}.")
    device = resolve_device(model)
    with eval_mode(model):
        feats = model.features(image[None].to(device))
        beams = [([Vocabulary.bos], 0.0, model.start(feats))]
        finished: list[tuple[list[int], float]] = []
        for _ in range(max_len):
            words = torch.tensor([b[0][-1] for b in beams], device=device)
            h = torch.cat([b[2] for b in beams])
            logits, h, _ = model.step(feats.expand(len(beams), -1, -1), words, h)
            logp = logits.log_softmax(-1).cpu()
            candidates = []
            for j, (seq, score, _) in enumerate(beams):
                top = logp[j].topk(beam)
                for lp, w in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                    candidates.append((seq + [w], score + lp, h[j : j + 1]))
            candidates.sort(key=lambda c: -c[1])
            beams = []
            for seq, score, state in candidates:
                if seq[-1] == Vocabulary.eos:
                    finished.append((seq[1:], score))
                else:
                    beams.append((seq, score, state))
                if len(beams) == beam:
                    break
            if len(finished) >= beam or not beams:
                break
        if not finished:
            finished = [(b[0][1:], b[1]) for b in beams]
        return max(finished, key=lambda f: f[1])


def _ngrams(words: Sequence[str], n: int) -> Counter:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def bleu4(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus BLEU-4 (Papineni et al. 2002) with one reference per hypothesis, in [0, 1].

    Clipped n-gram precisions for n = 1..4 pooled over the corpus, their geometric mean,
    times the brevity penalty ``exp(1 - r/c)`` when the hypotheses are shorter (c < r).
    No smoothing: 0 when some n-gram order has no match.
    """
    if len(references) != len(hypotheses) or not references:
        raise ValueError(
            f"need as many hypotheses as references (and at least one); got {len(hypotheses)} and {len(references)}."
        )
    matches, totals = [0] * 4, [0] * 4
    ref_len = hyp_len = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        r, h = ref.split(), hyp.split()
        ref_len += len(r)
        hyp_len += len(h)
        for n in range(1, 5):
            hn, rn = _ngrams(h, n), _ngrams(r, n)
            matches[n - 1] += sum(min(c, rn[g]) for g, c in hn.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    if min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / 4
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / max(hyp_len, 1))
    return brevity * math.exp(log_precision)


def attention_hits(
    vocab: Vocabulary, ids: torch.Tensor, alphas: torch.Tensor, scenes: Sequence[TextScene], grid: int
) -> dict[str, list[bool]]:
    """For each generated shape word that names the right shape, does its attention peak fall on that object?

    ``ids``: ``(N, T)`` generated ids, ``alphas``: ``(N, T, grid*grid)`` (from :func:`greedy_captions`).
    The ``k``-th shape word of a caption names the scene's ``k``-th object (captions list objects
    in reading order); it is counted when the word is that object's shape. Its peak cell (the
    ``alpha`` argmax, ``H/grid`` pixels on a side) is a hit when the object's mask has a pixel in it.
    Also returns, under ``"colour"``, the same for the colour word before it.
    """
    if len(ids) != len(scenes) or alphas.shape[:2] != ids.shape:
        raise ValueError("ids, alphas and scenes must describe the same captions.")
    shape_ids = {vocab.stoi[s] for s in SHAPES}
    hits: dict[str, list[bool]] = {"shape": [], "colour": []}
    for n, scene in enumerate(scenes):
        size = scene.image.shape[0]
        cell = size // grid
        k = 0
        for t, w in enumerate(ids[n].tolist()):
            if w == Vocabulary.eos or w == 0:
                break
            if w not in shape_ids:
                continue
            if k < len(scene.objects) and vocab.itos[w] == scene.objects[k].shape:
                mask = scene.masks[k]
                for key, step in (("shape", t), ("colour", t - 1)):
                    peak = int(alphas[n, step].argmax())
                    r, c = divmod(peak, grid)
                    hits[key].append(bool(mask[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell].any()))
            k += 1
    return hits


def train_vqa(
    model: nn.Module,
    images: torch.Tensor,
    scene_index: torch.Tensor,
    question_tokens: torch.Tensor,
    answers: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    desc: str = "VQA training",
) -> list[float]:
    """Cross-entropy on (image, question) -> answer; ``scene_index[i]`` is the row of ``images`` question ``i`` asks about."""
    check_images(images, channels=3, unit_range=True)
    _check_tokens(question_tokens, len(answers), "question_tokens")
    if len(scene_index) != len(answers):
        raise ValueError(f"scene_index and answers differ in length: {len(scene_index)} vs {len(answers)}.")
    device = resolve_device(model)

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        logits = model(images[scene_index[idx]].to(device), question_tokens[idx].to(device))
        return F.cross_entropy(logits, answers[idx].to(device))

    return _fit(model, len(answers), loss_fn, steps, batch_size, lr, seed, progress, desc)


@torch.no_grad()
def predict_answers(
    model: nn.Module,
    images: torch.Tensor,
    scene_index: torch.Tensor,
    question_tokens: torch.Tensor,
    batch_size: int = 512,
) -> torch.Tensor:
    """``(Q,)`` int64 answer ids for every question (model in eval mode inside)."""
    check_images(images, channels=3, unit_range=True)
    _check_tokens(question_tokens, len(scene_index), "question_tokens")
    device = resolve_device(model)
    with eval_mode(model):
        return torch.cat(
            [
                model(
                    images[scene_index[i : i + batch_size]].to(device), question_tokens[i : i + batch_size].to(device)
                )
                .argmax(-1)
                .cpu()
                for i in range(0, len(scene_index), batch_size)
            ]
        )


def accuracy_by_type(predictions: torch.Tensor, answers: torch.Tensor, types: Sequence[str]) -> dict[str, float]:
    """Accuracy per question type plus ``"all"``: ``{type: share correct}`` (types in first-seen order)."""
    if len(predictions) != len(answers) or len(answers) != len(types) or not len(types):
        raise ValueError(
            f"predictions, answers and types must be non-empty and equally long; got {len(predictions)}, {len(answers)}, {len(types)}."
        )
    correct = (predictions == answers).numpy()
    types_arr = np.array(types)
    out = {t: float(correct[types_arr == t].mean()) for t in dict.fromkeys(types)}
    out["all"] = float(correct.mean())
    return out
