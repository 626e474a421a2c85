/* Each analysis metric on synthetic matrices whose answer is known in closed form
 * (planted spectra built in double by tests/optim/test_mats.h, independent of the library). */
#include "spectra/spectra.h"
#include "linalg/linalg.h"
#include "optim/test_mats.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Singular values come back as planted (fp32 input: relative error ~1e-6 of sigma_1), and
 * U diag(s) Vᵀ rebuilds X; both orientations. */
static void test_svd(size_t m, size_t n) {
    spectra_rng rng;
    spectra_rng_seed(&rng, 11 + m);
    size_t r = m < n ? m : n;
    double *sig = malloc(r * sizeof *sig), *Xd = malloc(m * n * sizeof *Xd), *s = malloc(r * sizeof *s);
    double *U = malloc(m * r * sizeof *U), *V = malloc(n * r * sizeof *V);
    float *X = malloc(m * n * sizeof *X);
    for (size_t i = 0; i < r; i++) sig[i] = pow(0.9, (double)i) * 3.0;
    tm_planted(&rng, m, n, sig, Xd);
    tm_to_float(Xd, X, m * n);
    CHECK_OK(spectra_svd_exact(X, m, n, s, U, V));
    double worst = 0, rec = 0;
    for (size_t i = 0; i < r; i++) worst = fmax(worst, fabs(s[i] - sig[i]));
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double x = 0;
            for (size_t k = 0; k < r; k++) x += U[i + k * m] * s[k] * V[j + k * n];
            rec = fmax(rec, fabs(x - X[i * n + j]));
        }
    CHECK_MSG(worst < 1e-5 * sig[0], "%zux%zu: max |s - planted| = %g", m, n, worst);
    CHECK_MSG(rec < 1e-10, "%zux%zu: reconstruction error %g", m, n, rec);
    double *s2 = malloc(r * sizeof *s2);
    CHECK_OK(spectra_svd_exact(X, m, n, s2, NULL, NULL));
    double d = 0;
    for (size_t i = 0; i < r; i++) d = fmax(d, fabs(s2[i] - s[i]));
    CHECK_MSG(d < 1e-12, "values-only driver differs by %g", d);
    CHECK(spectra_svd_exact(NULL, m, n, s, NULL, NULL) == SPECTRA_ERR_INVALID_ARG);
    free(sig), free(Xd), free(s), free(s2), free(U), free(V), free(X);
}

/* A planted spike of 3 values (100, 90, 80) over a smooth tail from 1.0 down: k* = 3 and
 * the gap is 80 / 1.0, recovered through an SVD of the fp32 matrix. */
static void test_spike(void) {
    const size_t m = 64, n = 96, r = 64;
    spectra_rng rng;
    spectra_rng_seed(&rng, 5);
    double sig[64], *Xd = malloc(m * n * sizeof *Xd), s[64];
    float *X = malloc(m * n * sizeof *X);
    sig[0] = 100, sig[1] = 90, sig[2] = 80;
    for (size_t i = 3; i < r; i++) sig[i] = 1.0 - 0.5 * (double)(i - 3) / (double)(r - 4);
    tm_planted(&rng, m, n, sig, Xd);
    tm_to_float(Xd, X, m * n);
    CHECK_OK(spectra_svd_exact(X, m, n, s, NULL, NULL));
    spectra_spike_stats sp;
    CHECK_OK(spectra_spike_size(s, r, &sp));
    CHECK(sp.k_star == 3);
    CHECK_NEAR(sp.k_frac, 3.0 / 64.0, 1e-15);
    CHECK_NEAR(sp.gap, 80.0, 80.0 * 1e-4);
    double e = (1e4 + 8100 + 6400), tot = e;
    for (size_t i = 3; i < r; i++) tot += sig[i] * sig[i];
    CHECK_NEAR(sp.energy, e / tot, 1e-5);
    /* The search window is the top r/4: a bigger ratio beyond it is ignored. */
    double t[8] = {8, 4, 2, 1.9, 1.8, 1.7, 0.001, 0.0005};
    CHECK_OK(spectra_spike_size(t, 8, &sp));
    CHECK(sp.k_star == 1 && sp.gap == 2.0);
    /* A zero after a positive value is an infinite gap; r < 2 is refused. */
    double z[4] = {3, 0, 0, 0};
    CHECK_OK(spectra_spike_size(z, 4, &sp));
    CHECK(sp.k_star == 1 && isinf(sp.gap));
    CHECK(spectra_spike_size(z, 1, &sp) == SPECTRA_ERR_INVALID_ARG);
    free(Xd), free(X);
}

/* sigma_i² = r − i + 1 gives CDF(j) = (j(2r − j + 1)/2) / (r(r + 1)/2). */
static void test_cdf(void) {
    const size_t r = 50;
    double s[50], cdf[50];
    for (size_t i = 0; i < r; i++) s[i] = sqrt((double)(r - i));
    CHECK_OK(spectra_energy_cdf(s, r, cdf));
    double worst = 0;
    for (size_t j = 1; j <= r; j++) {
        double want = ((double)j * (2.0 * r - j + 1) / 2.0) / ((double)r * (r + 1) / 2.0);
        worst = fmax(worst, fabs(cdf[j - 1] - want));
        if (j == 7) CHECK_NEAR(spectra_energy_share(s, r, j), want, 1e-14);
    }
    CHECK_MSG(worst < 1e-14, "CDF off by %g", worst);
    CHECK_NEAR(spectra_energy_share(s, r, 1000), 1.0, 1e-15);
    double zero[3] = {0, 0, 0};
    CHECK_OK(spectra_energy_cdf(zero, 3, cdf));
    CHECK(cdf[2] == 0.0);
}

/* V = c·11ᵀ is exactly rank 1: with k = 1, V_t = 0, so tail_only = |M_t|/eps and
 * full = |M_t|/(sqrt(c)+eps), a ratio of (sqrt(c)+eps)/eps for every element. M has a
 * planted spectrum, so M_t = M − P_1(M) is known: ‖M_t‖² = Σ_{i>1} σ_i². */
static void test_tail_suppression(void) {
    const size_t m = 24, n = 40, r = 24;
    spectra_rng rng;
    spectra_rng_seed(&rng, 9);
    double sig[24], *Md = malloc(m * n * sizeof *Md);
    for (size_t i = 0; i < r; i++) sig[i] = i == 0 ? 10.0 : 1.0 / (double)(i + 1);
    tm_planted(&rng, m, n, sig, Md);
    float *M = malloc(m * n * sizeof *M), *V = malloc(m * n * sizeof *V), *full = malloc(m * n * sizeof *full),
          *tail = malloc(m * n * sizeof *tail);
    tm_to_float(Md, M, m * n);
    const double c = 4.0, eps = 1e-3;
    for (size_t i = 0; i < m * n; i++) V[i] = (float)c;
    spectra_tail_stats ts;
    CHECK_OK(spectra_tail_suppression(M, V, m, n, 1, eps, full, tail, &ts));
    double want_ratio = (sqrt(c) + eps) / eps, worst = 0, mt2 = 0, tail_sq = 0;
    for (size_t i = 0; i < m * n; i++) {
        double mt = full[i] * (sqrt(c) + eps);
        mt2 += mt * mt;
        if (full[i] > 1e-6) worst = fmax(worst, fabs(tail[i] / full[i] / want_ratio - 1));
    }
    for (size_t i = 1; i < r; i++) tail_sq += sig[i] * sig[i];
    CHECK_MSG(worst < 1e-3, "ratio off by %g (relative)", worst);
    CHECK_NEAR(mt2, tail_sq, 1e-4 * tail_sq);
    CHECK_NEAR(ts.median_ratio, want_ratio, 1e-3 * want_ratio);
    CHECK_NEAR(ts.mean_log10_ratio, log10(want_ratio), 1e-3);
    CHECK(ts.q_full[0] <= ts.q_full[2] && ts.q_full[2] <= ts.q_full[4]);
    CHECK(spectra_tail_suppression(M, V, m, n, 0, eps, NULL, NULL, &ts) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_tail_suppression(M, V, m, n, r, eps, NULL, NULL, &ts) == SPECTRA_ERR_INVALID_ARG);
    /* Quantiles: numpy's linear interpolation. */
    float q[5] = {5, 1, 4, 2, 3};
    CHECK_NEAR(spectra_quantile(q, 5, 0.5), 3.0, 0);
    CHECK_NEAR(spectra_quantile(q, 5, 0.1), 1.4, 1e-6);
    /* Histogram density integrates to the fraction inside the range. */
    float h[4] = {1, 10, 100, 0};
    double d[4];
    CHECK_OK(spectra_log10_histogram(h, 4, 0, 2, 4, d));
    CHECK_NEAR(d[0] * 0.5, 0.25, 1e-12);
    CHECK_NEAR(d[2] * 0.5, 0.25, 1e-12);
    CHECK_NEAR(d[1] + d[3], 0, 0);
    free(Md), free(M), free(V), free(full), free(tail);
}

/* G_i = Ḡ + E_i with E_i iid N(0, τ²) entries: u_kᵀ E_i v_k ~ N(0, τ²) for unit u_k, v_k,
 * independent across k (the vec(u_k v_kᵀ) are orthonormal), so RelVar(k) = τ²/σ_k².
 * The sample variance over n draws has relative sd sqrt(2/(n−1)) (chi-square): each k is
 * checked to 5 sd, the mean over the nk directions to 5 sd / sqrt(nk). */
static void test_relvar(void) {
    const size_t m = 30, n = 40, r = 30, N = 400;
    const double tau = 0.05;
    spectra_rng rng;
    spectra_rng_seed(&rng, 21);
    double sig[30], *Gd = malloc(m * n * sizeof *Gd), s[30], *U = malloc(m * r * sizeof *U),
                    *V = malloc(n * r * sizeof *V), *a = malloc(N * r * sizeof *a), rv[30];
    for (size_t i = 0; i < r; i++) sig[i] = 2.0 * pow(0.85, (double)i);
    tm_planted(&rng, m, n, sig, Gd);
    float *G = malloc(m * n * sizeof *G), *Gi = malloc(m * n * sizeof *Gi);
    tm_to_float(Gd, G, m * n);
    CHECK_OK(spectra_svd_exact(G, m, n, s, U, V));
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < m * n; j++) Gi[j] = (float)(Gd[j] + tau * spectra_rng_normal(&rng));
        CHECK_OK(spectra_spectral_projections(Gi, m, n, U, V, r, r, a + i * r));
    }
    CHECK_OK(spectra_relvar(a, N, r, s, rv));
    const double sd = sqrt(2.0 / (double)(N - 1));
    double mean_ratio = 0, worst = 0;
    for (size_t k = 0; k < r; k++) {
        double ratio = rv[k] * s[k] * s[k] / (tau * tau);
        mean_ratio += ratio / (double)r;
        worst = fmax(worst, fabs(ratio - 1));
    }
    CHECK_MSG(worst < 5 * sd, "worst RelVar(k)·σ²/τ² off by %g (5 sd = %g)", worst, 5 * sd);
    CHECK_MSG(fabs(mean_ratio - 1) < 5 * sd / sqrt((double)r), "mean ratio %g", mean_ratio);
    /* The projections' mean is σ_k (E has mean zero): u_kᵀ Ḡ v_k = σ_k exactly. */
    double mean0 = 0;
    for (size_t i = 0; i < N; i++) mean0 += a[i * r] / (double)N;
    CHECK_NEAR(mean0, s[0], 5 * tau / sqrt((double)N));
    CHECK(spectra_relvar(a, 1, r, s, rv) == SPECTRA_ERR_INVALID_ARG);
    free(Gd), free(U), free(V), free(a), free(G), free(Gi);
}

/* The scalar map of one Newton–Schulz step, in double. */
static double ns_scalar(double x, int steps) {
    for (int i = 0; i < steps; i++) x = 3.4445 * x - 4.7750 * x * x * x + 2.0315 * x * x * x * x * x;
    return x;
}

/* NS is a matrix polynomial X p(XᵀX), so NS(U Σ Vᵀ) = U f(Σ/‖Σ‖) Vᵀ with f the scalar map:
 * checked elementwise, tall and wide. Its right singular vectors are G's wherever the
 * images f(x_i) are distinct, so align = 1 there; with 0 steps NS(G) = G/‖G‖ and align = 1. */
static void test_ns(size_t m, size_t n) {
    size_t r = m < n ? m : n;
    spectra_rng rng;
    spectra_rng_seed(&rng, 31 + m);
    double *sig = malloc(r * sizeof *sig), *Gd = malloc(m * n * sizeof *Gd), *want = malloc(m * n * sizeof *want),
           *img = malloc(r * sizeof *img), *al = malloc(r * sizeof *al), *sg = malloc(r * sizeof *sg),
           *sn = malloc(r * sizeof *sn);
    float *G = malloc(m * n * sizeof *G), *out = malloc(m * n * sizeof *out),
          *work = malloc(spectra_newton_schulz_work(m, n) * sizeof *work);
    /* Geometric values: normalized they are small enough that five steps keep them apart. */
    double nrm = 0;
    for (size_t i = 0; i < r; i++) {
        sig[i] = pow(0.7, (double)i);
        nrm += sig[i] * sig[i];
    }
    nrm = sqrt(nrm);
    for (size_t i = 0; i < r; i++) img[i] = ns_scalar(sig[i] / nrm, 5);
    tm_planted(&rng, m, n, img, want); /* same rng state as below → same U, V */
    spectra_rng_seed(&rng, 31 + m);
    tm_planted(&rng, m, n, sig, Gd);
    tm_to_float(Gd, G, m * n);
    CHECK_OK(spectra_newton_schulz(G, m, n, 5, 1e-7f, out, work));
    double worst = 0;
    for (size_t i = 0; i < m * n; i++) worst = fmax(worst, fabs(out[i] - want[i]));
    CHECK_MSG(worst < 2e-5, "%zux%zu: NS differs from U f(S) Vᵀ by %g", m, n, worst);

    double sep = 1;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < i; j++) sep = fmin(sep, fabs(img[i] - img[j]));
    CHECK_MSG(sep > 1e-3, "test spectrum not separated after NS (%g)", sep);
    CHECK_OK(spectra_ns_alignment(G, m, n, 5, 0, al, sg, sn));
    double lo = 1;
    for (size_t i = 0; i < r; i++) lo = fmin(lo, al[i]);
    CHECK_MSG(lo > 0.999, "%zux%zu: min align %g with separated images", m, n, lo);
    double top = 0;
    for (size_t i = 0; i < r; i++) top = fmax(top, img[i]);
    CHECK_NEAR(sn[0], top, 1e-5);
    CHECK_OK(spectra_ns_alignment(G, m, n, 0, 0, al, NULL, NULL));
    lo = 1;
    for (size_t i = 0; i < r; i++) lo = fmin(lo, al[i]);
    CHECK_MSG(lo > 0.999999, "0 steps: min align %g", lo);
    /* bf16 emulation: singular values of NS(G) are the scalar images to bf16 accuracy
     * (~8 significant bits per op over 5 steps), and these well-separated directions stay
     * aligned; nothing exceeds 1. */
    CHECK_OK(spectra_ns_alignment(G, m, n, 5, 1, al, NULL, sn));
    double srt[64], dev = 0, amin = 1, amax = 0;
    for (size_t i = 0; i < r; i++) srt[i] = img[i];
    for (size_t i = 0; i < r; i++)
        for (size_t j = i + 1; j < r; j++)
            if (srt[j] > srt[i]) {
                double t = srt[i];
                srt[i] = srt[j];
                srt[j] = t;
            }
    for (size_t i = 0; i < r; i++) {
        dev = fmax(dev, fabs(sn[i] - srt[i]));
        amin = fmin(amin, al[i]);
        amax = fmax(amax, al[i]);
    }
    CHECK_MSG(dev < 0.05, "bf16 NS singular values off by %g", dev);
    CHECK_MSG(amin >= 0 && amax <= 1 + 1e-12, "bf16 align in [%g, %g]", amin, amax);
    /* With 0 steps NS(G) = bf16(G)/‖G‖: an entrywise relative perturbation of 2^-9 moves
     * singular vectors with 30% gaps by far less than 1%, so they stay aligned. */
    CHECK_OK(spectra_ns_alignment(G, m, n, 0, 1, al, NULL, NULL));
    amin = 1;
    for (size_t i = 0; i < r; i++) amin = fmin(amin, al[i]);
    CHECK_MSG(amin > 0.99, "bf16, 0 steps: min align %g", amin);
    free(sig), free(Gd), free(want), free(img), free(al), free(sg), free(sn), free(G), free(out), free(work);
}

/* Shuffle keeps sentence ends in place and permutes each sentence's tokens. */
static void test_shuffle(void) {
    uint8_t ends[16] = {0};
    ends[15] = 1; /* "." */
    int32_t w[24], orig[24];
    for (int i = 0; i < 24; i++) w[i] = orig[i] = (i % 8 == 7) ? 15 : i % 15;
    w[23] = orig[23] = 3; /* an unfinished last sentence */
    spectra_shuffle_sentences(w, 24, ends, 42);
    int moved = 0;
    for (int s = 0; s < 3; s++) {
        int cnt_a[16] = {0}, cnt_b[16] = {0};
        int end = s < 2 ? 8 * s + 7 : 24;
        for (int i = 8 * s; i < end; i++) {
            cnt_a[w[i]]++;
            cnt_b[orig[i]]++;
            moved += w[i] != orig[i];
        }
        CHECK(!memcmp(cnt_a, cnt_b, sizeof cnt_a));
        if (s < 2) CHECK(w[end] == 15);
    }
    CHECK(moved > 0);
    int32_t one[3] = {4, 15, 5};
    spectra_shuffle_sentences(one, 3, ends, 1);
    CHECK(one[0] == 4 && one[1] == 15 && one[2] == 5);
}

int main(void) {
    test_svd(40, 60);
    test_svd(70, 30);
    test_spike();
    test_cdf();
    test_tail_suppression();
    test_relvar();
    test_ns(12, 20);
    test_ns(20, 12);
    test_shuffle();
    return test_finish("test_analysis_metrics");
}
