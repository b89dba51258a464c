"""The quantization spec's integer primitives against values worked by hand."""
import numpy as np
import pytest

from snn_deploy.convert import fixed_point as fp


def test_named_scales_are_loihi_formats():
    assert fp.DECAY_UNITY == 4096 and fp.ACTIVATION_SHIFT == 6 and fp.THRESHOLD_SHIFT == 6
    assert fp.STATE_MAX == 2**23 - 1 and fp.STATE_WRAP == 2**24
    assert fp.THRESHOLD_MANT_MAX == 131071 and (fp.BIAS_MANT_MIN, fp.BIAS_MANT_MAX) == (-4096, 4095)
    assert fp.BIAS_EXP_MAX == 7


def test_decay_rounds_the_magnitude_toward_zero():
    # 1000 * (4096 - 410) = 3_686_000; / 4096 = 899.90 -> 899 ; negative: -899 (not floor's -900)
    np.testing.assert_array_equal(fp.decay(np.array([1000, -1000, 0]), 410), [899, -899, 0])
    # d = 4096 clears the state, d = 0 keeps it
    np.testing.assert_array_equal(fp.decay(np.array([12345, -7]), 4096), [0, 0])
    np.testing.assert_array_equal(fp.decay(np.array([12345, -7]), 0), [12345, -7])
    # per-neuron decays broadcast over a batch [B, N]
    x = np.array([[4096, 4096], [-4096, 100]])
    np.testing.assert_array_equal(fp.decay(x, np.array([1024, 2048])), [[3072, 2048], [-3072, 50]])


def test_mul_frac_rounds_toward_zero_with_negative_fraction():
    # 768 * -400 = -307200 ; 307200 >> 12 = 75 -> -75 ; 87 * -400 = -34800 -> -8
    np.testing.assert_array_equal(fp.mul_frac(np.array([768, 87, -87]), -400), [-75, -8, 8])


def test_current_wraps_like_lava():
    h = 2**23
    x = np.array([h, h + 1, -h, -h - 5, h - 1, -h + 1, 8392860])
    np.testing.assert_array_equal(fp.wrap_current(x), [h, -h + 1, h, h - 5, h - 1, -h + 1, -8384356])


def test_voltage_saturates_symmetrically():
    np.testing.assert_array_equal(fp.saturate(np.array([2**23, -2**23, 5, 2**30])),
                                  [2**23 - 1, -(2**23 - 1), 5, 2**23 - 1])


def test_threshold_is_strict_and_msb_aligned():
    vth = fp.threshold(10)
    assert vth == 640
    np.testing.assert_array_equal(fp.spikes(np.array([639, 640, 641]), vth), [0, 0, 1])
    assert fp.activation(-3) == -192


def test_weight_shift_floors_for_negative_exponent():
    acc = np.array([5, -5, 3, -1])
    np.testing.assert_array_equal(fp.weight_shift(acc, -1), [2, -3, 1, -1])
    np.testing.assert_array_equal(fp.weight_shift(acc, 2), [20, -20, 12, -4])
    np.testing.assert_array_equal(fp.weight_shift(acc, 0), acc)


def test_bias_scaling():
    np.testing.assert_array_equal(fp.scale_bias(np.array([-3, 4095, 7]), np.array([2, 7, 0])),
                                  [-12, 4095 * 128, 7])


def test_sigmoid_lut_values():
    assert fp.sigmoid_gate(0) == 2048
    # g in units of 2^-8: round(4096 * sigmoid(1)) = round(2994.44) ; sigmoid(-1): round(1101.56)
    np.testing.assert_array_equal(fp.sigmoid_gate(np.array([256, -256])), [2994, 1102])
    # clipped at +-2048 (x = +-8): round(4096 * 0.99966) = 4095, round(4096 * 0.000335) = 1
    np.testing.assert_array_equal(fp.sigmoid_gate(np.array([10**6, -10**6])), [4095, 1])
    assert np.all(np.diff(fp.SIGMOID_LUT) >= 0) and fp.SIGMOID_LUT.shape == (4096,)


def test_int_matmul_is_exact_and_picks_dtype_from_bound():
    rng = np.random.default_rng(0)
    w = rng.integers(-256, 255, size=(7, 300))
    x = rng.integers(0, 200, size=(4, 9, 300))
    np.testing.assert_array_equal(fp.int_matmul(x, w), np.einsum("btc,nc->btn", x, w))
    assert fp.exact_float_dtype(1, 254 * 128) == np.float32
    assert fp.exact_float_dtype(255, 254 * 700) == np.float64
    with pytest.raises(OverflowError):
        fp.exact_float_dtype(2.0**30, 2.0**30)


def test_mul_frac_equals_the_sign_magnitude_definition_on_random_values():
    rng = np.random.default_rng(3)
    x = rng.integers(-2**23, 2**23, size=20000)
    f = rng.integers(-4096, 4097, size=20000)
    p = x * f
    reference = np.sign(p) * (np.abs(p) >> 12)        # Lava's formula, literally
    np.testing.assert_array_equal(fp.mul_frac(x, f), reference)
    assert np.any(reference < 0) and np.any(reference > 0)
