import pytest
import torch

from amd_mm.masking import AsymmetricMaskGenerator
from amd_mm.masking.asymmetric import num_visible


def _as_sets(ids):
    return [set(row.tolist()) for row in ids]


@pytest.mark.parametrize('grid,rs,rt', [((1, 14, 14), 0.75, 0.5), ((8, 7, 7), 0.9, 0.75),
                                        ((1, 8, 8), 0.75, 0.0)])
def test_random_masks_are_nested_exact_and_sorted(grid, rs, rt):
    gen = AsymmetricMaskGenerator(student_ratio=rs, teacher_ratio=rt, seed=1)
    m = gen(16, grid)
    d_ids = m.ids_teacher_only(rt)
    n = grid[0] * grid[1] * grid[2]
    n_s, n_t = num_visible(n, rs), num_visible(n, rt)
    assert m.ids_student.shape == (16, n_s)
    assert d_ids.shape == (16, n_t - n_s)
    assert m.ids_masked.shape == (16, n - n_s)
    for ids in (m.ids_student, d_ids, m.ids_masked):
        assert torch.all(ids[:, 1:] > ids[:, :-1]), 'indices sorted and unique per sample'
    for s, d, hidden in zip(_as_sets(m.ids_student), _as_sets(d_ids), _as_sets(m.ids_masked)):
        assert not s & d and not s & hidden  # student-visible is disjoint from the rest
        assert d <= hidden  # teacher-only tokens are hidden from the student
        assert len(s | hidden) == n
    # the teacher sees a strict superset of the student's tokens
    assert m.ids_teacher(rt).shape[1] == n_t > n_s


def test_counts_match_official_rounding():
    # official: num_mask = int(ratio * N)
    assert num_visible(196, 0.75) == 196 - 147
    assert num_visible(8 * 196, 0.9) == 8 * 196 - int(0.9 * 8 * 196)
    assert num_visible(160, 0.9) == 16


def test_tube_masks_repeat_over_time_and_nest():
    gen = AsymmetricMaskGenerator(student_ratio=0.9, teacher_ratio=0.75, mode='tube', seed=3)
    t, h, w = 8, 7, 7
    m = gen(4, (t, h, w))
    assert m.ids_student.shape == (4, t * num_visible(h * w, 0.9))
    for ids in (m.ids_student, m.ids_teacher_only(0.75), m.ids_masked):
        spatial = (ids % (h * w)).view(4, t, -1)
        slots = ids // (h * w)
        # the same spatial positions in every temporal slot
        assert torch.equal(spatial, spatial[:, :1].expand_as(spatial))
        assert torch.equal(slots.view(4, t, -1), torch.arange(t).view(1, t, 1).expand(4, t, spatial.shape[-1]))
    vs, vt = m.to_bool(m.ids_student), m.to_bool(m.ids_teacher(0.75))
    assert torch.all(vt[vs]) and vt.sum() > vs.sum()


def test_masks_differ_per_sample_and_step_but_are_reproducible():
    a = AsymmetricMaskGenerator(0.75, 0.5, seed=7)
    b = AsymmetricMaskGenerator(0.75, 0.5, seed=7)
    first = a(8, (1, 8, 8))
    assert not torch.equal(first.ids_student[0], first.ids_student[1])
    second = a(8, (1, 8, 8))
    assert not torch.equal(first.ids_student, second.ids_student)
    assert torch.equal(b(8, (1, 8, 8)).ids_student, first.ids_student)
    # restoring the saved step restores the stream (exact resume)
    c = AsymmetricMaskGenerator(0.75, 0.5, seed=7)
    c.load_state_dict(b.state_dict())
    assert torch.equal(c(8, (1, 8, 8)).ids_student, second.ids_student)


def test_masks_differ_across_ranks(monkeypatch):
    import mmengine.dist
    gen = AsymmetricMaskGenerator(0.75, 0.5, seed=7)
    rank0 = gen(4, (1, 8, 8)).ids_student
    gen.step.zero_()
    monkeypatch.setattr(mmengine.dist, 'get_rank', lambda *a, **k: 1)
    rank1 = gen(4, (1, 8, 8)).ids_student
    assert not torch.equal(rank0, rank1)


@pytest.mark.parametrize('kwargs,match', [
    (dict(student_ratio=0.5, teacher_ratio=0.75), 'teacher_ratio=0.75 must not exceed'),
    (dict(student_ratio=1.0, teacher_ratio=0.5), r'student_ratio=1.0 must lie in \[0, 1\)'),
    (dict(student_ratio=0.75, teacher_ratio=-0.1), 'teacher_ratio=-0.1'),
    (dict(mode='grid'), "mode='grid'"),
    # nothing masked: was a NaN loss at the first step (every loss is over hidden tokens)
    (dict(student_ratio=0.0, teacher_ratio=0.0),
     r'^mask_generator.student_ratio=0.0 hides no token from the student \(teacher_ratio=0.0\), '
     'so there is nothing to reconstruct or predict'),
])
def test_bad_ratios_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AsymmetricMaskGenerator(**kwargs)


def test_a_ratio_that_hides_no_token_of_the_grid_is_a_config_error():
    gen = AsymmetricMaskGenerator(student_ratio=0.01, teacher_ratio=0.0)
    with pytest.raises(ValueError, match=r'^mask_generator.student_ratio=0.01 hides no token of the '
                                         r'64 of a 1x8x8 grid, so there is nothing to reconstruct'):
        gen(2, (1, 8, 8))
    assert gen(2, (1, 10, 10)).num_student == 99  # int(0.01 * 100) = 1 hidden


def test_block_masks_are_exact_nested_and_clustered():
    gen = AsymmetricMaskGenerator(student_ratio=0.4, teacher_ratio=0.2, mode='block', seed=0)
    m = gen(16, (1, 14, 14))
    n_s, n_t = num_visible(196, 0.4), num_visible(196, 0.2)
    assert m.ids_student.shape == (16, n_s) and m.ids_teacher_only(0.2).shape == (16, n_t - n_s)
    vs, vt = m.to_bool(m.ids_student), m.to_bool(m.ids_teacher(0.2))
    assert torch.all(vt[vs])
    hidden = ~vs.view(16, 14, 14)
    # hidden tokens come in blocks: most have a hidden right or lower neighbour
    right = (hidden[:, :, :-1] & hidden[:, :, 1:]).sum() + (hidden[:, :-1, :] & hidden[:, 1:, :]).sum()
    random = AsymmetricMaskGenerator(student_ratio=0.4, teacher_ratio=0.2, seed=0)(16, (1, 14, 14))
    rh = ~random.to_bool(random.ids_student).view(16, 14, 14)
    right_random = (rh[:, :, :-1] & rh[:, :, 1:]).sum() + (rh[:, :-1, :] & rh[:, 1:, :]).sum()
    assert right > 1.5 * right_random


def test_teachers_with_other_ratios_get_nested_sets():
    m = AsymmetricMaskGenerator(student_ratio=0.9, teacher_ratio=0.75, mode='tube', seed=0)(2, (4, 6, 6))
    full = m.ids_teacher_only(0.0)
    half = m.ids_teacher_only(0.5)
    assert torch.equal(full, m.ids_masked)
    assert set(m.ids_teacher_only(0.75)[0].tolist()) <= set(half[0].tolist()) <= set(full[0].tolist())
    assert m.ids_teacher_only(0.9).shape == (2, 0)  # the student's own ratio: nothing more


def test_peek_draws_the_next_masks_without_advancing():
    gen = AsymmetricMaskGenerator(student_ratio=0.75, teacher_ratio=0.5, seed=5)
    gen(2, (1, 8, 8))
    peeked = gen.peek(2, (1, 8, 8))
    assert int(gen.step) == 1
    assert torch.equal(gen(2, (1, 8, 8)).order, peeked.order) and int(gen.step) == 2
