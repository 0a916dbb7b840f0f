"""Small networks that join images and text (lesson 12).

* :class:`ConvGrid` -- a CNN that keeps a grid of feature vectors (one per image region:
  ``(B, C, H/8, W/8)``), the "annotation vectors" of Show, Attend and Tell;
* :class:`BagOfWords` and :class:`GRUText` -- text encoders (mean of word embeddings:
  word order lost; a GRU: order kept);
* :class:`DualEncoder` -- CLIP-style: an image and a text encoder projected into one
  space, unit-length embeddings, a learnable temperature;
* :class:`AttentionCaptioner` -- a recurrent decoder with soft (additive) attention over
  the grid, one attention map per generated word;
* :class:`VQANet` -- visual question answering: the question conditions the image grid
  (FiLM), attention pooling plus average pooling, an answer classifier; and
  :class:`QuestionOnly`, the same question encoder without the image (the language-bias
  baseline).

Training, decoding and evaluation live in :mod:`cvlib.multimodal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn


class ConvGrid(nn.Module):
    """Three stride-2 conv stages: ``(B, 3, H, W)`` float in [0, 1] -> ``(B, widths[-1], H/8, W/8)``."""

    def __init__(self, widths: Sequence[int] = (32, 64, 96)) -> None:
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"ConvGrid takes three stage widths; got {tuple(widths)}.")
        layers: list[nn.Module] = []
        c_in = 3
        for c in widths:
            layers += [
                nn.Conv2d(c_in, c, 3, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            ]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.out_channels = widths[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images - 0.5)


class BagOfWords(nn.Module):
    """Mean of the word embeddings (padding id 0 ignored): ``(B, L)`` int64 -> ``(B, dim)``. Word order is lost."""

    def __init__(self, vocab_size: int, dim: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.out_dim = dim

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != 0).float().unsqueeze(-1)
        return (self.embed(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1)


class GRUText(nn.Module):
    """Word embeddings read in order by a GRU: ``(B, L)`` int64 (0 = padding, at the end) -> ``(B, hidden)``, the state after the last word."""

    def __init__(self, vocab_size: int, dim: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.out_dim = hidden

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.embed(tokens))
        last = (tokens != 0).sum(1).clamp(min=1) - 1
        return states[torch.arange(len(tokens), device=tokens.device), last]


class DualEncoder(nn.Module):
    """CLIP-style joint embedding: ``encode_image`` ``(B, 3, H, W)`` and ``encode_text`` ``(B, L)`` -> ``(B, dim)`` unit vectors.

    ``logit_scale`` is learned (stored as a log, starting at 1 / 0.07 as in CLIP); the
    image-text similarity logits are ``logit_scale.exp() * image_emb @ text_emb.T``.
    """

    def __init__(self, image_encoder: ConvGrid, text_encoder: nn.Module, dim: int = 64) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.image_proj = nn.Linear(image_encoder.out_channels, dim)
        self.text_proj = nn.Linear(cast(int, text_encoder.out_dim), dim)  # BagOfWords / GRUText.out_dim
        self.logit_scale = nn.Parameter(torch.tensor(1 / 0.07).log())

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_proj(self.image_encoder(images).mean((2, 3))), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_proj(self.text_encoder(tokens)), dim=-1)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_image(images), self.encode_text(tokens)


class AttentionCaptioner(nn.Module):
    """Show, Attend and Tell on a small scale: a :class:`ConvGrid` encoder, a GRU decoder with additive attention.

    At each step the decoder scores every grid cell ``i`` with
    ``e_i = w . tanh(W_f f_i + W_h h)``, takes ``alpha = softmax(e)``, reads the context
    ``z = sum_i alpha_i f_i`` and feeds ``[embedding(previous word), z]`` to the GRU; the
    next word's logits come from ``[h, z]``.
    """

    def __init__(
        self, vocab_size: int, widths: Sequence[int] = (32, 64, 96), embed: int = 48, hidden: int = 128, attn: int = 64
    ) -> None:
        super().__init__()
        self.encoder = ConvGrid(widths)
        c = self.encoder.out_channels
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.init_h = nn.Linear(c, hidden)
        self.att_f = nn.Linear(c, attn)
        self.att_h = nn.Linear(hidden, attn)
        self.att_w = nn.Linear(attn, 1)
        self.cell = nn.GRUCell(embed + c, hidden)
        self.out = nn.Linear(hidden + c, vocab_size)
        self.hidden = hidden

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, L, C)``: the grid as ``L = H/8 * W/8`` region vectors in reading order."""
        return self.encoder(images).flatten(2).transpose(1, 2)

    def start(self, feats: torch.Tensor) -> torch.Tensor:
        """The decoder's first state from the mean region vector: ``(B, L, C)`` -> ``(B, hidden)``."""
        return torch.tanh(self.init_h(feats.mean(1)))

    def step(
        self, feats: torch.Tensor, words: torch.Tensor, h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One word: ``(B, L, C)``, ``(B,)`` previous word ids, ``(B, hidden)`` -> logits ``(B, V)``, new state, attention ``(B, L)``."""
        scores = self.att_w(torch.tanh(self.att_f(feats) + self.att_h(h).unsqueeze(1))).squeeze(-1)
        alpha = scores.softmax(-1)
        context = (alpha.unsqueeze(-1) * feats).sum(1)
        h = self.cell(torch.cat([self.embed(words), context], -1), h)
        return self.out(torch.cat([h, context], -1)), h, alpha

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: ``tokens`` ``(B, T)`` starting with ``<bos>`` -> logits ``(B, T-1, V)`` for ``tokens[:, 1:]`` and attention ``(B, T-1, L)``."""
        feats = self.features(images)
        h = self.start(feats)
        logits, alphas = [], []
        for t in range(tokens.shape[1] - 1):
            out, h, alpha = self.step(feats, tokens[:, t], h)
            logits.append(out)
            alphas.append(alpha)
        return torch.stack(logits, 1), torch.stack(alphas, 1)


class FiLMBlock(nn.Module):
    """A residual conv block whose features are scaled and shifted per channel by the question (FiLM)."""

    def __init__(self, channels: int, cond: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.film = nn.Linear(cond, 2 * channels)

    def forward(self, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(q).chunk(2, -1)
        y = self.norm(self.conv(x)) * (1 + gamma[..., None, None]) + beta[..., None, None]
        return x + F.relu(y)


class VQANet(nn.Module):
    """Image + question -> answer logits ``(B, n_answers)``; ``last_attention`` keeps the ``(B, H/8, W/8)`` evidence map.

    The question (:class:`GRUText`) modulates the image grid (two :class:`FiLMBlock`);
    a 1 x 1 conv scores each cell, the softmax of those scores pools the grid (where the
    model looks), and the pooled vector, the average of the grid (for counting) and the
    question go to an MLP.
    """

    def __init__(
        self, vocab_size: int, n_answers: int, widths: Sequence[int] = (32, 64, 96), hidden: int = 128
    ) -> None:
        super().__init__()
        self.encoder = ConvGrid(widths)
        self.question = GRUText(vocab_size, 64, hidden)
        c = self.encoder.out_channels
        self.blocks = nn.ModuleList([FiLMBlock(c, hidden), FiLMBlock(c, hidden)])
        self.score = nn.Conv2d(c, 1, 1)
        self.head = nn.Sequential(nn.Linear(2 * c + hidden, 256), nn.ReLU(inplace=True), nn.Linear(256, n_answers))
        self.last_attention: torch.Tensor | None = None

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        q = self.question(tokens)
        x = self.encoder(images)
        for block in self.blocks:
            x = block(x, q)
        alpha = self.score(x).flatten(1).softmax(-1)
        self.last_attention = alpha.detach().view(len(x), *x.shape[2:])
        attended = (x.flatten(2) * alpha.unsqueeze(1)).sum(-1)
        return self.head(torch.cat([attended, x.mean((2, 3)), q], -1))


class QuestionOnly(nn.Module):
    """The language-only baseline: the question encoder of :class:`VQANet` and an MLP; ``images`` are ignored."""

    def __init__(self, vocab_size: int, n_answers: int, hidden: int = 128) -> None:
        super().__init__()
        self.question = GRUText(vocab_size, 64, hidden)
        self.head = nn.Sequential(nn.Linear(hidden, 256), nn.ReLU(inplace=True), nn.Linear(256, n_answers))

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.question(tokens))
