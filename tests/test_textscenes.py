"""cvlib.data.textscenes: generated scenes with captions, questions and a fixed vocabulary (lesson 12)."""

import numpy as np
import pytest
import torch

from cvlib.data.textscenes import (
    ANSWERS,
    COLOUR_RGB,
    COLUMNS,
    HELD_OUT_PAIRS,
    NUMBER_WORDS,
    QUESTION_TYPES,
    SHAPES,
    WORDS,
    Vocabulary,
    caption,
    make_text_scenes,
    make_vqa,
    questions,
    scene_images,
)


def test_scenes_are_deterministic_and_independent_of_n():
    a = make_text_scenes(6, seed=4, min_objects=1, max_objects=3)
    b = make_text_scenes(3, seed=4, min_objects=1, max_objects=3)
    for x, y in zip(a[:3], b):
        assert np.array_equal(x.image, y.image) and x.objects == y.objects
    other = make_text_scenes(3, seed=5, min_objects=1, max_objects=3)
    assert not all(np.array_equal(x.image, y.image) for x, y in zip(b, other))


def test_objects_match_their_masks_boxes_and_colours():
    for scene in make_text_scenes(20, seed=1, size=48, min_objects=1, max_objects=4):
        assert scene.image.shape == (48, 48, 3) and scene.image.dtype == np.uint8
        assert len(scene.masks) == len(scene.objects)
        cells = [(o.row, o.column) for o in scene.objects]
        assert cells == sorted(cells) and len(set(cells)) == len(cells)  # reading order, one object per cell
        for obj, mask in zip(scene.objects, scene.masks):
            ys, xs = np.nonzero(mask)
            assert obj.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            # the object's centre lies in its grid cell
            assert obj.column == int((xs.mean()) // 16) and obj.row == int((ys.mean()) // 16)
            # its pixels carry its colour (up to the small jitter)
            mean = scene.image[mask].mean(0)
            assert np.abs(mean - np.array(COLOUR_RGB[obj.colour])).max() < 30
        assert not np.logical_and.reduce(scene.masks, axis=0).any() or len(scene.masks) == 1


def test_exclude_and_only_restrict_colour_shape_pairs():
    train = make_text_scenes(300, seed=0, exclude=HELD_OUT_PAIRS)
    assert not {(o.colour, o.shape) for s in train for o in s.objects} & set(HELD_OUT_PAIRS)
    held = make_text_scenes(100, seed=0, only=HELD_OUT_PAIRS)
    assert {(o.colour, o.shape) for s in held for o in s.objects} == set(HELD_OUT_PAIRS)
    with pytest.raises(ValueError, match="colour, shape"):
        make_text_scenes(2, only=[("pink", "circle")])


def test_captions_name_objects_in_reading_order():
    scene = make_text_scenes(1, seed=3, min_objects=1, max_objects=1)[0]
    o = scene.objects[0]
    text = caption(scene)
    assert text.startswith(f"a {o.size} {o.colour} {o.shape} ")
    assert ("in the centre" in text) == (o.row == 1 and o.column == 1)
    many = next(s for s in make_text_scenes(20, seed=2, min_objects=3, max_objects=3))
    parts = caption(many).split(" and ")
    assert parts == [f"a {o.size} {o.colour} {o.shape}" for o in many.objects]


def test_questions_have_correct_answers():
    scenes = make_text_scenes(200, seed=7, min_objects=1, max_objects=4)
    qa = make_vqa(scenes, seed=0)
    assert qa == make_vqa(scenes, seed=0)  # deterministic
    assert {t for *_, t in qa} == set(QUESTION_TYPES)
    for n, q, a, t in qa:
        objs = scenes[n].objects
        assert a in ANSWERS
        words = q.split()
        if t == "count" and words[2] == "objects":
            assert a == NUMBER_WORDS[len(objs)]
        elif t == "count":
            assert a == NUMBER_WORDS[sum(o.colour == words[2] for o in objs)]
        elif t == "colour":
            (obj,) = [o for o in objs if o.shape == words[-2]]
            assert a == obj.colour
        elif t == "shape":
            (obj,) = [o for o in objs if o.colour == words[4]]
            assert a == obj.shape
        elif t == "exist":
            assert (a == "yes") == any((o.colour, o.shape) == (words[3], words[4]) for o in objs)
        else:
            (obj,) = [o for o in objs if (o.colour, o.shape) == (words[3], words[4])]
            assert a == COLUMNS[obj.column]


def test_exist_answers_are_balanced():
    scenes = make_text_scenes(400, seed=1, min_objects=1, max_objects=4)
    answers = [a for _, _, a, t in make_vqa(scenes) if t == "exist"]
    assert 0.4 < answers.count("yes") / len(answers) < 0.6


def test_vocabulary_round_trip_padding_and_unknown_words():
    vocab = Vocabulary()
    assert len(vocab) == 4 + len(set(WORDS))
    ids = vocab.encode("a large red circle", bos=True, eos=True)
    assert ids[0] == vocab.bos and ids[-1] == vocab.eos and vocab.decode(ids) == "a large red circle"
    assert vocab.encode("a banana") == [vocab.stoi["a"], vocab.unk]
    assert vocab.unknown_words("is there a banana ?") == ["banana"]
    batch = vocab.encode_batch(["a red circle", "a circle"])
    assert batch.shape == (2, 3) and batch.dtype == torch.long and batch[1, 2] == vocab.pad
    assert vocab.encode("a red circle", length=5)[3:] == [0, 0]
    with pytest.raises(ValueError, match="list"):
        vocab.encode_batch("a red circle")
    assert all(s in vocab.stoi for s in SHAPES + ANSWERS)


def test_scene_images_and_errors():
    x = scene_images(make_text_scenes(3, seed=0, size=32))
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    with pytest.raises(ValueError, match="at least one"):
        scene_images([])
    with pytest.raises(ValueError, match="min_objects"):
        make_text_scenes(2, min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match="size"):
        make_text_scenes(2, size=16)


def test_questions_skip_ambiguous_types():
    # two objects of the same colour and shape: no colour/shape/position question can name one of them
    scene = next(
        s
        for s in make_text_scenes(400, seed=9, min_objects=2, max_objects=2)
        if s.objects[0].colour == s.objects[1].colour and s.objects[0].shape == s.objects[1].shape
    )
    types = {t for _, _, t in questions(scene, np.random.default_rng(0))}
    assert types == {"count", "exist"}
