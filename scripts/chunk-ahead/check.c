/* Checks the chunk-ahead variant (B) against the kept momentum + P = MV (A): new M and P
 * bitwise equal, ‖M‖² to 1e-12 relative, over shapes with partial blocks, chunks and panels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
double A_panel_momentum_xv(size_t, size_t, float *, const float *, float, size_t, const float *, float *, float *);
double B_panel_momentum_xv(size_t, size_t, float *, const float *, float, size_t, const float *, float *, float *);
size_t A_panel_work(size_t, size_t, size_t);
int main(void) {
    size_t shapes[][3] = {{4096, 14336, 61}, {1024, 3072, 15}, {100, 1000, 20}, {517, 1037, 61}, {13, 2050, 64}, {300, 129, 70}, {97, 511, 3}, {4096, 4096, 61}};
    int bad = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *M1 = malloc(m * n * 4), *M2 = malloc(m * n * 4), *G = malloc(m * n * 4), *V = malloc(n * k * 4);
        float *P1 = malloc(m * k * 4), *P2 = malloc(m * k * 4), *w = malloc(A_panel_work(m, n, k) * 4);
        srand(1);
        for (size_t i = 0; i < m * n; i++) M1[i] = M2[i] = rand() / (float)RAND_MAX - 0.5f, G[i] = rand() / (float)RAND_MAX - 0.5f;
        for (size_t i = 0; i < n * k; i++) V[i] = rand() / (float)RAND_MAX - 0.5f;
        double a = A_panel_momentum_xv(m, n, M1, G, 0.95f, k, V, P1, w);
        double b = B_panel_momentum_xv(m, n, M2, G, 0.95f, k, V, P2, w);
        int mb = memcmp(M1, M2, m * n * 4) != 0, pb = memcmp(P1, P2, m * k * 4) != 0;
        printf("%zux%zu k%zu: M %s P %s norm rel %.2e\n", m, n, k, mb ? "DIFF" : "same", pb ? "DIFF" : "same", fabs(a - b) / a);
        bad |= mb | pb | (fabs(a - b) / a > 1e-12);
        free(M1); free(M2); free(G); free(V); free(P1); free(P2); free(w);
    }
    return bad;
}
