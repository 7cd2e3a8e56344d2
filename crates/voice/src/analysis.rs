//! Comparing two signals: normalised cross-correlation and the lag at which one best
//! matches the other.
//!
//! Tests and benchmarks measure what the audio path did to a known signal (how much it
//! was delayed, how closely it survived) by lining the output up with the input. The
//! search is coarse-to-fine: first on 8× decimated signals over the whole lag range,
//! then sample-exact around the best coarse match, which keeps a second-long search
//! cheap enough for debug-build tests.

/// Decimation factor of the coarse search.
const COARSE: usize = 8;

/// Normalised cross-correlation of `a[i]` with `b[i + lag]` over their overlap, in
/// -1..=1 (0 when either side is silent or there is no overlap).
pub fn correlation(a: &[f32], b: &[f32], lag: usize) -> f32 {
    let n = a.len().min(b.len().saturating_sub(lag));
    let (a, b) = (&a[..n], &b[lag.min(b.len())..][..n]);
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += f64::from(x) * f64::from(y);
        aa += f64::from(x) * f64::from(x);
        bb += f64::from(y) * f64::from(y);
    }
    (ab / (aa * bb).sqrt().max(1e-12)) as f32
}

/// The lag, in samples up to `max_lag`, at which `b` best matches `a` (`b` is the later
/// signal), with the correlation there. `None` when either signal is empty.
pub fn best_lag(a: &[f32], b: &[f32], max_lag: usize) -> Option<(usize, f32)> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let decimate = |x: &[f32]| -> Vec<f32> { x.chunks(COARSE).map(|c| c.iter().sum()).collect() };
    let (da, db) = (decimate(a), decimate(b));
    let (coarse, _) = (0..=max_lag / COARSE)
        .map(|lag| (lag, correlation(&da, &db, lag)))
        .max_by(|x, y| x.1.total_cmp(&y.1))?;
    let fine =
        (coarse * COARSE).saturating_sub(2 * COARSE)..=(coarse * COARSE + 2 * COARSE).min(max_lag);
    fine.map(|lag| (lag, correlation(a, b, lag)))
        .max_by(|x, y| x.1.total_cmp(&y.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chirp(len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let t = i as f32 / 48_000.0;
                (2.0 * std::f32::consts::PI * (200.0 + 900.0 * t) * t).sin()
            })
            .collect()
    }

    #[test]
    fn finds_the_delay_of_a_shifted_signal() {
        let a = chirp(24_000);
        let mut b = vec![0.0; 1234];
        b.extend(a.iter().map(|x| 0.5 * x));
        let (lag, corr) = best_lag(&a, &b, 4800).unwrap();
        assert_eq!(lag, 1234);
        assert!(corr > 0.999, "{corr}");
        assert!(correlation(&a, &b, 1000) < 0.5);
    }

    #[test]
    fn degenerate_inputs_are_safe() {
        assert_eq!(best_lag(&[], &[1.0], 10), None);
        assert_eq!(correlation(&[1.0, 2.0], &[1.0], 5), 0.0);
        assert_eq!(correlation(&[0.0; 4], &[0.0; 4], 0), 0.0);
    }
}
