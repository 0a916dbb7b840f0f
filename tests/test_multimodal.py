"""cvlib.multimodal and cvlib.models.multimodal: InfoNCE, recall@K, BLEU-4, decoding, attention hits, VQA (lesson 12)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvlib.data.textscenes import ANSWERS, Vocabulary, caption, make_text_scenes, make_vqa, scene_images
from cvlib.models.multimodal import AttentionCaptioner, BagOfWords, ConvGrid, DualEncoder, GRUText, QuestionOnly, VQANet
from cvlib.multimodal import (
    accuracy_by_type,
    attention_hits,
    beam_caption,
    bleu4,
    embed_images,
    embed_texts,
    greedy_captions,
    info_nce,
    predict_answers,
    recall_at_k,
    train_captioner,
    train_dual_encoder,
    train_vqa,
    zero_shot_predict,
)

VOCAB = Vocabulary()


def test_info_nce_equals_a_hand_computation():
    u = F.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8]]), dim=1)
    v = F.normalize(torch.tensor([[0.8, 0.6], [0.0, 1.0]]), dim=1)
    scale = 2.0
    s = scale * (u @ v.T)
    s00, s01 = scale * 0.8, scale * 0.0
    s10, s11 = scale * (0.6 * 0.8 + 0.8 * 0.6), scale * 0.8
    assert torch.allclose(s, torch.tensor([[s00, s01], [s10, s11]]))
    rows = -(s00 - math.log(math.exp(s00) + math.exp(s01))) - (s11 - math.log(math.exp(s10) + math.exp(s11)))
    cols = -(s00 - math.log(math.exp(s00) + math.exp(s10))) - (s11 - math.log(math.exp(s01) + math.exp(s11)))
    assert info_nce(u, v, scale).item() == pytest.approx((rows + cols) / 4, rel=1e-6)


def test_info_nce_is_log_batch_when_all_similarities_are_equal_and_small_when_pairs_match():
    same = F.normalize(torch.ones(16, 4), dim=1)
    assert info_nce(same, same, 10.0).item() == pytest.approx(math.log(16), rel=1e-6)
    eye = torch.eye(8)
    assert info_nce(eye, eye, 100.0).item() < 1e-6
    with pytest.raises(ValueError, match="B, D"):
        info_nce(torch.ones(3, 4), torch.ones(2, 4), 1.0)


def test_recall_at_k_on_a_hand_made_similarity_matrix():
    sim = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.3, 0.8], [0.5, 0.4, 0.1]])
    target = torch.tensor([0, 1, 1])  # row 0 right at 1, row 1 right at 2, row 2 right at 2
    assert recall_at_k(sim, target, 1) == pytest.approx(1 / 3)
    assert recall_at_k(sim, target, 2) == pytest.approx(1.0)
    several = torch.tensor([[False, True, True], [False, False, True], [False, False, True]])  # several positives
    assert recall_at_k(sim, several, 1) == pytest.approx(1 / 3)
    assert recall_at_k(sim, several, 3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k must"):
        recall_at_k(sim, target, 4)


def test_bleu4_known_values():
    assert bleu4(["a b c d e"], ["a b c d e"]) == pytest.approx(1.0)
    assert bleu4(["a b c d e"], ["e d c b a"]) == 0.0  # no 2-gram matches
    # 6-word hypothesis, 7-word reference, all n-grams of the hypothesis match: precision 1, BP = exp(1 - 7/6)
    assert bleu4(["a b c d e f g"], ["a b c d e f"]) == pytest.approx(math.exp(1 - 7 / 6))
    # clipping: "the" counts at most 3 times (the reference has 3), and no 2-gram "the the" matches -> 0
    assert bleu4(["the cat the cat the"], ["the the the the the"]) == 0.0
    # one substitution in 8 words: precisions 7/8, 5/7, 3/6, 1/5, equal lengths (no brevity penalty)
    p = [7 / 8, 5 / 7, 3 / 6, 1 / 5]  # "a b c x e f g h" vs "a b c d e f g h"
    assert bleu4(["a b c d e f g h"], ["a b c x e f g h"]) == pytest.approx(math.exp(sum(map(math.log, p)) / 4))
    with pytest.raises(ValueError, match="as many"):
        bleu4(["a"], ["a", "b"])


def test_bag_of_words_ignores_order_and_padding_gru_does_not():
    torch.manual_seed(0)
    bag, gru = BagOfWords(len(VOCAB), 8), GRUText(len(VOCAB), 8, 8)
    a = VOCAB.encode_batch(["a red circle and a blue square", "a blue circle and a red square"])
    padded = torch.tensor([VOCAB.encode("a red circle", length=6)])
    with torch.no_grad():
        assert torch.allclose(bag(a)[0], bag(a)[1], atol=1e-6)
        assert not torch.allclose(gru(a)[0], gru(a)[1], atol=1e-4)
        assert torch.allclose(bag(padded), bag(VOCAB.encode_batch(["a red circle"])), atol=1e-6)
        assert torch.allclose(gru(padded), gru(VOCAB.encode_batch(["a red circle"])), atol=1e-6)


def test_dual_encoder_learns_to_match_and_zero_shot_uses_prompts():
    torch.manual_seed(0)
    scenes = make_text_scenes(400, seed=0, size=32)
    x, t = scene_images(scenes), VOCAB.encode_batch([caption(s) for s in scenes])
    model = DualEncoder(ConvGrid((8, 16, 16)), BagOfWords(len(VOCAB), 16), dim=16)
    losses = train_dual_encoder(model, x, t, steps=60, batch_size=64, progress=False)
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])
    img, txt = embed_images(model, x[:50]), embed_texts(model, t[:50])
    assert txt.shape == (50, 16)
    assert img.shape == (50, 16) and torch.allclose(img.norm(dim=1), torch.ones(50), atol=1e-5)
    colours = ("red", "green", "blue", "yellow", "purple")
    pred, sims = zero_shot_predict(model, x[:100], [VOCAB.encode_batch([f"a {c}"]) for c in colours])
    truth = torch.tensor([colours.index(s.objects[0].colour) for s in scenes[:100]])
    assert sims.shape == (100, 5) and (pred == truth).float().mean() > 0.4  # chance 0.2


def test_training_is_deterministic():
    scenes = make_text_scenes(64, seed=0, size=32)
    x, t = scene_images(scenes), VOCAB.encode_batch([caption(s) for s in scenes])
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = DualEncoder(ConvGrid((4, 8, 8)), BagOfWords(len(VOCAB), 8), dim=8)
        runs.append(train_dual_encoder(model, x, t, steps=3, batch_size=16, progress=False))
    assert runs[0] == runs[1]


def _small_captioner():
    torch.manual_seed(0)
    return AttentionCaptioner(len(VOCAB), (8, 16, 16), embed=8, hidden=16, attn=8)


def test_captioner_shapes_attention_and_decoding():
    model = _small_captioner()
    scenes = make_text_scenes(4, seed=0, size=32, min_objects=1, max_objects=2)
    x = scene_images(scenes)
    tokens = VOCAB.encode_batch([caption(s, positions=False) for s in scenes], bos=True, eos=True)
    logits, alphas = model(x, tokens)
    assert logits.shape == (4, tokens.shape[1] - 1, len(VOCAB)) and alphas.shape == (4, tokens.shape[1] - 1, 16)
    assert torch.allclose(alphas.sum(-1), torch.ones(4, tokens.shape[1] - 1), atol=1e-5)
    ids, att = greedy_captions(model, x, max_len=7)
    assert ids.shape == (4, 7) and att.shape == (4, 7, 16)
    best, score = beam_caption(model, x[0], beam=1, max_len=7)  # beam 1 = greedy
    greedy = ids[0].tolist()
    assert best[: len(best)] == greedy[: len(best)] and score <= 0
    with pytest.raises(ValueError, match="bos"):
        train_captioner(model, x, VOCAB.encode_batch(["a red circle"] * 4), steps=1, progress=False)


def test_beam_search_score_is_the_log_probability_of_its_caption():
    model = _small_captioner().eval()
    x = scene_images(make_text_scenes(3, seed=1, size=32))
    for image in x:
        for beam in (1, 3):
            ids, score = beam_caption(model, image, beam=beam, max_len=6)
            tokens = torch.tensor([[VOCAB.bos] + ids])
            with torch.no_grad():
                logits, _ = model(image[None], tokens)
            logp = logits.log_softmax(-1)[0, torch.arange(len(ids)), tokens[0, 1:]].sum().item()
            assert score == pytest.approx(logp, abs=1e-4)


def test_captioner_learns_and_attention_hits_count_the_right_object():
    torch.manual_seed(0)
    scenes = make_text_scenes(600, seed=0, size=32, min_objects=1, max_objects=1)
    x = scene_images(scenes)
    tokens = VOCAB.encode_batch([caption(s, positions=False) for s in scenes], bos=True, eos=True)
    model = _small_captioner()
    losses = train_captioner(model, x, tokens, steps=150, batch_size=64, progress=False)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    ids, alphas = greedy_captions(model, x[:40])
    hits = attention_hits(VOCAB, ids, alphas, scenes[:40], grid=4)
    assert len(hits["shape"]) == len(hits["colour"]) <= 40


def test_attention_hits_on_hand_made_attention():
    scene = make_text_scenes(1, seed=0, size=48)[0]
    obj = scene.objects[0]
    ids = torch.tensor([VOCAB.encode(f"a {obj.size} {obj.colour} {obj.shape}") + [VOCAB.eos]])
    on, off = torch.zeros(1, 5, 36), torch.zeros(1, 5, 36)
    ys, xs = np.nonzero(scene.masks[0])
    cell = (ys[0] // 8) * 6 + xs[0] // 8  # a cell with a pixel of the object
    far = next(
        c for c in range(36) if not scene.masks[0][(c // 6) * 8 : (c // 6) * 8 + 8, (c % 6) * 8 : (c % 6) * 8 + 8].any()
    )
    on[0, :, cell] = 1
    off[0, :, far] = 1
    assert attention_hits(VOCAB, ids, on, [scene], grid=6) == {"shape": [True], "colour": [True]}
    assert attention_hits(VOCAB, ids, off, [scene], grid=6) == {"shape": [False], "colour": [False]}
    wrong = torch.tensor([VOCAB.encode(f"a {obj.size} {obj.colour} {'circle' if obj.shape != 'circle' else 'square'}")])
    assert attention_hits(VOCAB, wrong, on[:, :4], [scene], grid=6) == {"shape": [], "colour": []}


def test_vqa_models_train_predict_and_report_per_type():
    torch.manual_seed(0)
    scenes = make_text_scenes(60, seed=0, size=32, min_objects=1, max_objects=3)
    qa = make_vqa(scenes)
    idx = torch.tensor([q[0] for q in qa])
    q = VOCAB.encode_batch([q[1] for q in qa])
    a = torch.tensor([ANSWERS.index(q[2]) for q in qa])
    x = scene_images(scenes)
    for model in (
        VQANet(len(VOCAB), len(ANSWERS), (8, 16, 16), hidden=16),
        QuestionOnly(len(VOCAB), len(ANSWERS), hidden=16),
    ):
        losses = train_vqa(model, x, idx, q, a, steps=40, progress=False)
        assert np.mean(losses[-5:]) < np.mean(losses[:5])
        pred = predict_answers(model, x, idx, q)
        assert pred.shape == a.shape and pred.dtype == torch.long
    model.eval()
    vqa = VQANet(len(VOCAB), len(ANSWERS), (8, 16, 16), hidden=16).eval()
    vqa(x[idx[:3]], q[:3])
    assert vqa.last_attention.shape == (3, 4, 4)
    assert torch.allclose(vqa.last_attention.flatten(1).sum(1), torch.ones(3), atol=1e-5)


def test_accuracy_by_type_known_values_and_errors():
    acc = accuracy_by_type(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 0, 3, 0]), ["a", "a", "b", "b"])
    assert acc == {"a": 0.5, "b": 0.5, "all": 0.5}
    with pytest.raises(ValueError, match="equally long"):
        accuracy_by_type(torch.tensor([1]), torch.tensor([1, 2]), ["a", "b"])


def test_entry_points_reject_bad_input():
    model = DualEncoder(ConvGrid((4, 8, 8)), BagOfWords(len(VOCAB), 8), dim=8)
    with pytest.raises(TypeError, match="int64"):
        embed_texts(model, torch.ones(2, 3))
    with pytest.raises(ValueError):
        embed_images(model, torch.rand(3, 32, 32))  # one image, not a batch
    with pytest.raises(ValueError, match="rows"):
        train_dual_encoder(model, torch.rand(4, 3, 32, 32), torch.ones(3, 2, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="one"):
        beam_caption(_small_captioner(), torch.rand(1, 3, 32, 32))
