/*
 * Pillow's convert('L') + 8-bit LANCZOS resize, fused, exact, on Pillow's own pixel memory.
 *
 * Why this exists: imagehash.phash spends almost all its time in Pillow's
 * convert('L') and its scalar fixed-point resize. Matching its bits means
 * reproducing that integer arithmetic exactly (libImaging/Resample.c and
 * Convert.c); doing it in one pass over the source, with the luma of a few
 * rows computed into a cache-resident buffer just before their products, and
 * with 16-bit SIMD multiply-adds (AVX2, chosen at run time; portable C on
 * other CPUs), is what makes it fast.
 *
 * Why the SIMD path is exact: Pillow's weights k are 22-bit integers, too
 * wide for 16-bit multiply-adds. Each is split as k = hi * 2**s + lo, with s
 * the smallest shift that fits every hi in int16 (|lo| <= 2**(s-1), small:
 * s is 7 at most). The products take only the hi parts; since pixels are
 * 0..255, the lo parts can move a sum by no more than 255 times their
 * negative or positive total (`slack`). Where both ends of that interval
 * round to the same output, that is the output; elsewhere (a few per cent of
 * outputs) the lo products are added exactly. Integer sums wrap modulo 2**32,
 * so every sum is exact whenever Pillow's own int32 sum is. The portable path
 * simply takes Pillow's int32 weights.
 *
 * Why we read Pillow's struct: Image.getim() hands out a capsule on the
 * image's ImagingMemoryInstance, whose row pointers let us read any image,
 * including ones Pillow spread over several memory blocks, without a copy
 * (tobytes() costs more than the whole hash). The struct is Pillow's
 * internal layout, so `parse_item` checks every field it relies on against
 * what Python reports before any pixel is read, and the Python side probes it
 * once and falls back to the pure numpy path when it does not match.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

#define PRECISION_BITS 22
#define HALF (1 << (PRECISION_BITS - 1))
#define ROWS 4 /* rows whose horizontal products share each weight load */
#define PIXELS_PER_THREAD (1 << 18) /* below this much work per extra thread, starting it costs more than it saves */

/* Pillow 12's ImagingMemoryInstance, up to the fields used here. */
typedef struct {
    int mode;
    int type;
    int depth;
    int bands;
    int xsize;
    int ysize;
    void *palette;
    uint8_t **image8;
    int32_t **image32;
    char **image;
    char *block;
    void *blocks;
    int pixelsize;
    int linesize;
} PillowImage;

static const char *CAPSULE_NAME = "Pillow Imaging";

static inline uint8_t clip8(int32_t sum) {
    int32_t value = sum >> PRECISION_BITS; /* arithmetic shift: floor, as Pillow's int shift */
    if (value < 0) return 0;
    if (value > 255) return 255;
    return (uint8_t)value;
}

/* Pillow's rgb2l: ITU-R 601-2 luma in 16-bit fixed point, alpha or padding byte ignored. */
static void luma_row(const uint8_t *restrict src, int pixelsize, int count, int16_t *restrict dst) {
    if (pixelsize == 1) {
        for (int x = 0; x < count; x++) dst[x] = src[x];
        return;
    }
    for (int x = 0; x < count; x++) {
        const uint8_t *p = src + 4 * x;
        dst[x] = (int16_t)(((uint32_t)p[0] * 19595 + (uint32_t)p[1] * 38470 + (uint32_t)p[2] * 7471 + 0x8000) >> 16);
    }
}

/* One output of the horizontal pass, Pillow's int32 arithmetic (unsigned: wraps instead of overflowing). */
static uint8_t dot_exact(const int16_t *restrict pixels, const int32_t *restrict weights, int count) {
    uint32_t sum = HALF;
    for (int x = 0; x < count; x++) sum += (uint32_t)(int32_t)pixels[x] * (uint32_t)weights[x];
    return clip8((int32_t)sum);
}

typedef struct {
    const int32_t *bounds;  /* (out, 2): first input, count */
    const int32_t *weights; /* (out, ksize): Pillow's weights */
    int ksize;
    const int16_t *hi, *lo; /* (out, padded): the split weights, zero past each count */
    int padded;             /* a multiple of 16: the SIMD path reads whole vectors */
    int shift;
    int out;
    const int32_t *slack; /* (2, out): 255 x the sum of negative lo, 255 x the sum of positive lo */
} Axis;

typedef struct {
    const PillowImage *image;
    int out_w, out_h;
    int need_h, need_v; /* a pass is skipped when its size does not change, as in Pillow */
    Axis h;
    const int32_t *v_bounds;
    const int32_t *v_weights;
    int v_ksize;
    uint8_t *out;
} Job;

/* Horizontal outputs from_xx.. of each row, one at a time: the portable path, and the SIMD path's last outputs. */
static void horizontal_outputs(const Job *job, int from_xx, int16_t *const *luma, int count_rows, uint8_t *dst, int dst_stride) {
    const Axis *h = &job->h;
    for (int xx = from_xx; xx < job->out_w; xx++) {
        int xmin = h->bounds[2 * xx], count = h->bounds[2 * xx + 1];
        const int32_t *k = h->weights + (size_t)xx * h->ksize;
        for (int r = 0; r < count_rows; r++) dst[(size_t)r * dst_stride + xx] = dot_exact(luma[r] + xmin, k, count);
    }
}

static void horizontal_rows(const Job *job, int16_t *const *luma, int count_rows, uint8_t *dst, int dst_stride) {
    horizontal_outputs(job, 0, luma, count_rows, dst, dst_stride);
}

/* Vertical outputs from_x.. of output row yy, one column at a time: the portable path, and the SIMD path's last columns. */
static void vertical_columns(const Job *job, int yy, int from_x, const uint8_t *temp, int temp_w, int first) {
    int ymin = job->v_bounds[2 * yy] - first, count = job->v_bounds[2 * yy + 1];
    const int32_t *k = job->v_weights + (size_t)yy * job->v_ksize;
    for (int x = from_x; x < temp_w; x++) {
        uint32_t sum = HALF;
        for (int y = 0; y < count; y++) sum += temp[(size_t)(ymin + y) * temp_w + x] * (uint32_t)k[y];
        job->out[(size_t)yy * temp_w + x] = clip8((int32_t)sum);
    }
}

static void vertical_pass(const Job *job, const uint8_t *temp, int temp_w, int first) {
    for (int yy = 0; yy < job->out_h; yy++) vertical_columns(job, yy, 0, temp, temp_w, first);
}

#ifdef HAVE_AVX2_PATH
/* rgb2l on 8 RGBX pixels: (R, B) and (G, pad) as 16-bit pairs, each pair one multiply-add. */
__attribute__((target("avx2"))) static inline __m256i luma8_avx2(__m256i pixels) {
    const __m256i pairs = _mm256_set1_epi32(0x00FF00FF);
    __m256i rb = _mm256_and_si256(pixels, pairs);
    __m256i gx = _mm256_and_si256(_mm256_srli_epi32(pixels, 8), pairs);
    __m256i sum = _mm256_madd_epi16(rb, _mm256_set1_epi32((7471 << 16) | 19595));
    /* 38470 does not fit int16: G * 19235, doubled */
    sum = _mm256_add_epi32(sum, _mm256_slli_epi32(_mm256_madd_epi16(gx, _mm256_set1_epi32(19235)), 1));
    return _mm256_srli_epi32(_mm256_add_epi32(sum, _mm256_set1_epi32(0x8000)), 16);
}

__attribute__((target("avx2"))) static void luma_row_avx2(const uint8_t *restrict src, int pixelsize, int count, int16_t *restrict dst) {
    int x = 0;
    if (pixelsize == 1) {
        for (; x + 16 <= count; x += 16)
            _mm256_storeu_si256((__m256i *)(dst + x), _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + x))));
    } else {
        for (; x + 16 <= count; x += 16) {
            __m256i a = luma8_avx2(_mm256_loadu_si256((const __m256i *)(src + 4 * x)));
            __m256i b = luma8_avx2(_mm256_loadu_si256((const __m256i *)(src + 4 * x + 32)));
            /* packs works per 128-bit lane: restore pixel order */
            __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
            _mm256_storeu_si256((__m256i *)(dst + x), packed);
        }
    }
    luma_row(src + x * pixelsize, pixelsize, count - x, dst + x);
}

/* Sums of the 8 lanes of each of 8 vectors, as one vector, in order. */
__attribute__((target("avx2"))) static inline __m256i hsum8x8(const __m256i v[8]) {
    __m256i a = _mm256_hadd_epi32(v[0], v[1]);
    __m256i b = _mm256_hadd_epi32(v[2], v[3]);
    __m256i c = _mm256_hadd_epi32(v[4], v[5]);
    __m256i d = _mm256_hadd_epi32(v[6], v[7]);
    __m256i ab = _mm256_hadd_epi32(a, b); /* lane halves: v0 v1 v2 v3 | v0 v1 v2 v3 */
    __m256i cd = _mm256_hadd_epi32(c, d);
    __m256i low = _mm256_permute2x128_si256(ab, cd, 0x20);
    __m256i high = _mm256_permute2x128_si256(ab, cd, 0x31);
    return _mm256_add_epi32(low, high);
}

__attribute__((target("avx2"))) static inline int32_t hsum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* 8 outputs already shifted down: clip to 0..255 (saturating packs), store 8 bytes. */
__attribute__((target("avx2"))) static inline void store8_clipped(__m256i values, uint8_t *dst) {
    __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(values), _mm256_extracti128_si256(values, 1));
    _mm_storel_epi64((__m128i *)dst, _mm_packus_epi16(words, words));
}

/*
 * Outputs xx..xx+7 of one row from their hi-part sums: the rounding of each
 * is settled by its slack interval, or else by adding its lo products.
 */
__attribute__((target("avx2"))) static void finish8(const Axis *h, int xx, __m256i hi_sums, const int16_t *luma, uint8_t *dst) {
    __m256i t = _mm256_add_epi32(_mm256_slli_epi32(hi_sums, h->shift), _mm256_set1_epi32(HALF));
    __m256i neg = _mm256_loadu_si256((const __m256i *)(h->slack + xx));
    __m256i pos = _mm256_loadu_si256((const __m256i *)(h->slack + h->out + xx));
    __m256i low = _mm256_srai_epi32(_mm256_add_epi32(t, neg), PRECISION_BITS);
    __m256i high = _mm256_srai_epi32(_mm256_add_epi32(t, pos), PRECISION_BITS);
    int unsettled = ~_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(low, high))) & 0xFF;
    if (unsettled) {
        int32_t sums[8], values[8];
        _mm256_storeu_si256((__m256i *)sums, t);
        _mm256_storeu_si256((__m256i *)values, low);
        for (int j = 0; j < 8; j++) {
            if (!(unsettled & (1 << j))) continue;
            int xmin = h->bounds[2 * (xx + j)], count = h->bounds[2 * (xx + j) + 1];
            const int16_t *lo = h->lo + (size_t)(xx + j) * h->padded;
            __m256i acc = _mm256_setzero_si256();
            for (int x = 0; x < count; x += 16)
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(luma + xmin + x)),
                                                               _mm256_loadu_si256((const __m256i *)(lo + x))));
            values[j] = (int32_t)((uint32_t)sums[j] + (uint32_t)hsum(acc)) >> PRECISION_BITS;
        }
        low = _mm256_loadu_si256((const __m256i *)values);
    }
    store8_clipped(low, dst + xx);
}

/*
 * The horizontal pass for ROWS rows, 8 outputs at a time, each weight vector
 * loaded once for all of them. Reads up to 15 pixels past an output's
 * window: the caller pads each luma row, and the weights there are zero.
 */
__attribute__((target("avx2"))) static void horizontal_rows_avx2(const Job *job, int16_t *const *luma, int count_rows, uint8_t *dst, int dst_stride) {
    const Axis *h = &job->h;
    int xx = 0;
    for (; xx + 8 <= job->out_w; xx += 8) {
        __m256i acc[ROWS][8];
        for (int j = 0; j < 8; j++) {
            int xmin = h->bounds[2 * (xx + j)], count = h->bounds[2 * (xx + j) + 1];
            const int16_t *hi = h->hi + (size_t)(xx + j) * h->padded;
            __m256i sum[ROWS];
            for (int r = 0; r < ROWS; r++) sum[r] = _mm256_setzero_si256();
            for (int x = 0; x < count; x += 16) {
                __m256i w = _mm256_loadu_si256((const __m256i *)(hi + x));
                for (int r = 0; r < ROWS; r++) /* rows past count_rows hold stale pixels, their sums unused: cheaper than a branch */
                    sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(luma[r] + xmin + x)), w));
            }
            for (int r = 0; r < ROWS; r++) acc[r][j] = sum[r];
        }
        for (int r = 0; r < count_rows; r++) finish8(h, xx, hsum8x8(acc[r]), luma[r], dst + (size_t)r * dst_stride);
    }
    horizontal_outputs(job, xx, luma, count_rows, dst, dst_stride); /* an output width that is not a multiple of 8 */
}

__attribute__((target("avx2"))) static void vertical_pass_avx2(const Job *job, const uint8_t *temp, int temp_w, int first) {
    int vectors = temp_w / 8 * 8;
    for (int yy = 0; yy < job->out_h; yy++) {
        int ymin = job->v_bounds[2 * yy] - first, count = job->v_bounds[2 * yy + 1];
        const int32_t *k = job->v_weights + (size_t)yy * job->v_ksize;
        uint8_t *dst = job->out + (size_t)yy * temp_w;
        for (int x = 0; x < vectors; x += 8) {
            __m256i sum = _mm256_set1_epi32(HALF);
            for (int y = 0; y < count; y++) {
                __m128i bytes = _mm_loadl_epi64((const __m128i *)(temp + (size_t)(ymin + y) * temp_w + x));
                sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), _mm256_set1_epi32(k[y])));
            }
            store8_clipped(_mm256_srai_epi32(sum, PRECISION_BITS), dst + x);
        }
        vertical_columns(job, yy, vectors, temp, temp_w, first);
    }
}
#endif

static int use_avx2 = 0;

typedef void (*LumaFn)(const uint8_t *, int, int, int16_t *);
typedef void (*HorizontalFn)(const Job *, int16_t *const *, int, uint8_t *, int);
typedef void (*VerticalFn)(const Job *, const uint8_t *, int, int);

/* Returns 0, or -1 when out of memory. Runs without the GIL. */
static int run_job(const Job *job) {
    const PillowImage *im = job->image;
    LumaFn luma_fn = luma_row;
    HorizontalFn horizontal_fn = horizontal_rows;
    VerticalFn vertical_fn = vertical_pass;
#ifdef HAVE_AVX2_PATH
    if (use_avx2) {
        luma_fn = luma_row_avx2;
        horizontal_fn = horizontal_rows_avx2;
        vertical_fn = vertical_pass_avx2;
    }
#endif
    int in_w = im->xsize;
    int first = 0, last = im->ysize;
    if (job->need_v) { /* only the rows some vertical window reads */
        first = job->v_bounds[0];
        last = job->v_bounds[2 * (job->out_h - 1)] + job->v_bounds[2 * job->out_h - 1];
    }
    int temp_w = job->need_h ? job->out_w : in_w;
    int rows = last - first;
    /* SIMD reads up to 15 pixels past a window's end, where the weights are zero; rows start on a cache line */
    size_t padded = ((size_t)in_w + 32 + 31) / 32 * 32;
    int16_t *luma_rows = aligned_alloc(64, ROWS * padded * sizeof(int16_t));
    uint8_t *temp = job->need_v ? malloc((size_t)rows * temp_w + 8) : job->out;
    if (!luma_rows || !temp) {
        free(luma_rows);
        if (job->need_v) free(temp);
        return -1;
    }
    memset(luma_rows, 0, ROWS * padded * sizeof(int16_t));
    int16_t *luma[ROWS];
    for (int r = 0; r < ROWS; r++) luma[r] = luma_rows + r * padded;
    for (int y = 0; y < rows; y += ROWS) {
        int count_rows = rows - y < ROWS ? rows - y : ROWS;
        uint8_t *dst = temp + (size_t)y * temp_w;
        for (int r = 0; r < count_rows; r++) luma_fn((const uint8_t *)im->image[first + y + r], im->pixelsize, in_w, luma[r]);
        if (job->need_h) {
            horizontal_fn(job, luma, count_rows, dst, temp_w);
        } else {
            for (int r = 0; r < count_rows; r++)
                for (int x = 0; x < in_w; x++) dst[(size_t)r * temp_w + x] = (uint8_t)luma[r][x];
        }
    }
    if (job->need_v) {
        vertical_fn(job, temp, temp_w, first);
        free(temp);
    }
    free(luma_rows);
    return 0;
}

/* Jobs shared by the threads of one resize_many call, largest first, each taken once. */
typedef struct {
    Job **order;
    Py_ssize_t count;
    atomic_size_t next;
    atomic_int failed;
} Queue;

static void *drain(void *arg) {
    Queue *queue = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&queue->next, 1);
        if (i >= (size_t)queue->count || atomic_load(&queue->failed)) return NULL;
        if (run_job(queue->order[i]) != 0) atomic_store(&queue->failed, 1);
    }
}

static size_t job_pixels(const Job *job) { return (size_t)job->image->xsize * job->image->ysize * job->image->pixelsize; }

static int larger_first(const void *a, const void *b) {
    size_t pa = job_pixels(*(Job *const *)a), pb = job_pixels(*(Job *const *)b);
    return (pa < pb) - (pa > pb);
}

/*
 * Runs every job on up to `threads` threads (this one included), no more
 * than the work pays for; a thread that cannot be started leaves its share
 * to the others. Returns 0, or -1 when some job ran out of memory. No GIL.
 */
static int run_jobs(Job *jobs, Py_ssize_t count, int threads) {
    size_t pixels = 0;
    for (Py_ssize_t i = 0; i < count; i++) pixels += job_pixels(&jobs[i]);
    size_t useful = pixels / PIXELS_PER_THREAD + 1;
    if ((size_t)threads > useful) threads = (int)useful;
    if (threads > count) threads = (int)count;
    if (threads <= 1) {
        for (Py_ssize_t i = 0; i < count; i++)
            if (run_job(&jobs[i]) != 0) return -1;
        return 0;
    }
    Job **order = malloc(sizeof(Job *) * count);
    pthread_t *helpers = malloc(sizeof(pthread_t) * (threads - 1));
    if (!order || !helpers) {
        free(order);
        free(helpers);
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) order[i] = &jobs[i];
    qsort(order, count, sizeof(Job *), larger_first);
    Queue queue = {.order = order, .count = count};
    atomic_init(&queue.next, 0);
    atomic_init(&queue.failed, 0);
    int started = 0;
    while (started < threads - 1 && pthread_create(&helpers[started], NULL, drain, &queue) == 0) started++;
    drain(&queue);
    for (int t = 0; t < started; t++) pthread_join(helpers[t], NULL);
    free(helpers);
    free(order);
    return atomic_load(&queue.failed) ? -1 : 0;
}

static PillowImage *image_from(PyObject *capsule) {
    PillowImage *im = PyCapsule_GetPointer(capsule, CAPSULE_NAME);
    return im; /* NULL with an exception set when the capsule is not Pillow's */
}

enum { H_BOUNDS, H_WEIGHTS, H_HI, H_LO, H_SLACK, V_BOUNDS, V_WEIGHTS, BUFFERS };

/*
 * One item of resize_many, parsed under the GIL into `job`:
 * (position, capsule, width, height, bands, pixelsize,
 *  h_bounds, h_weights, h_ksize, h_hi, h_lo, h_padded, h_shift, h_slack,
 *  v_bounds, v_weights, v_ksize)
 * Buffers as in `Axis` (int32 or int16, C order); an empty h_bounds (or
 * v_bounds) skips that pass. Pillow's struct is checked field by field
 * against width, height, bands and pixelsize before anything else is read.
 * On failure, sets an exception and returns -1 with every buffer released.
 */
static int parse_item(PyObject *item, Job *job, Py_buffer *views, Py_ssize_t slots, uint8_t *out) {
    PyObject *capsule;
    Py_ssize_t position;
    int width, height, bands, pixelsize;
    Axis *h = &job->h;
    memset(views, 0, sizeof(Py_buffer) * BUFFERS);
    if (!PyTuple_Check(item)) {
        PyErr_SetString(PyExc_TypeError, "each item must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(item, "nOiiiiy*y*iy*y*iiy*y*y*i", &position, &capsule, &width, &height, &bands, &pixelsize,
                          &views[H_BOUNDS], &views[H_WEIGHTS], &h->ksize, &views[H_HI], &views[H_LO], &h->padded,
                          &h->shift, &views[H_SLACK], &views[V_BOUNDS], &views[V_WEIGHTS], &job->v_ksize))
        return -1;
    const char *error = NULL;
    PillowImage *im = image_from(capsule);
    Py_ssize_t n = job->out_w;
    if (!im) goto fail;
    if (im->xsize != width || im->ysize != height || im->bands != bands || im->pixelsize != pixelsize ||
        im->linesize != width * pixelsize || im->type != 0 || (pixelsize != 1 && pixelsize != 4) || !im->image || width < 1 ||
        height < 1)
        error = "the image's memory is not laid out as this kernel reads it";
    else if (position < 0 || position >= slots)
        error = "position out of range";
    job->image = im;
    job->need_h = views[H_BOUNDS].len > 0;
    job->need_v = views[V_BOUNDS].len > 0;
    h->out = job->out_w;
    if (!error && job->need_h &&
        (views[H_BOUNDS].len < 2 * n * 4 || views[H_WEIGHTS].len < n * h->ksize * 4 || views[H_HI].len < n * h->padded * 2 ||
         views[H_LO].len < n * h->padded * 2 || views[H_SLACK].len < 2 * n * 4 || h->padded % 16 || h->padded < h->ksize ||
         h->shift < 0 || h->shift > 15))
        error = "horizontal weights of the wrong size";
    if (!error && job->need_v &&
        (views[V_BOUNDS].len < 2 * (Py_ssize_t)job->out_h * 4 || views[V_WEIGHTS].len < (Py_ssize_t)job->out_h * job->v_ksize * 4))
        error = "vertical weights of the wrong size";
    if (!error && ((!job->need_h && job->out_w != width) || (!job->need_v && job->out_h != height)))
        error = "a pass is skipped but its size changes";
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        goto fail;
    }
    h->bounds = views[H_BOUNDS].buf;
    h->weights = views[H_WEIGHTS].buf;
    h->hi = views[H_HI].buf;
    h->lo = views[H_LO].buf;
    h->slack = views[H_SLACK].buf;
    job->v_bounds = views[V_BOUNDS].buf;
    job->v_weights = views[V_WEIGHTS].buf;
    job->out = out + (size_t)position * job->out_w * job->out_h;
    return 0;
fail:
    for (int b = 0; b < BUFFERS; b++) PyBuffer_Release(&views[b]);
    return -1;
}

/*
 * resize_many(items, out_w, out_h, out[, threads]): each item's image into
 * out[position], `out` being (slots, out_h, out_w) bytes. The GIL is released
 * once for all items, which up to `threads` native threads then share (so
 * Python threads each running a list of images also run in parallel).
 */
static PyObject *resize_many(PyObject *self, PyObject *args) {
    PyObject *items;
    int out_w, out_h, threads = 1;
    Py_buffer out;
    if (!PyArg_ParseTuple(args, "Oiiw*|i", &items, &out_w, &out_h, &out, &threads)) return NULL;
    PyObject *result = NULL;
    Job *jobs = NULL;
    Py_buffer *views = NULL;
    Py_ssize_t parsed = 0, count = 0;
    PyObject *sequence = PySequence_Fast(items, "items must be a sequence");
    if (!sequence) goto done;
    count = PySequence_Fast_GET_SIZE(sequence);
    if (out_w < 1 || out_h < 1) {
        PyErr_SetString(PyExc_ValueError, "output size must be positive");
        goto done;
    }
    Py_ssize_t slots = out.len / ((Py_ssize_t)out_w * out_h);
    jobs = PyMem_Calloc(count ? count : 1, sizeof(Job));
    views = PyMem_Calloc(count ? count * BUFFERS : 1, sizeof(Py_buffer));
    if (!jobs || !views) {
        PyErr_NoMemory();
        goto done;
    }
    for (; parsed < count; parsed++) {
        jobs[parsed].out_w = out_w;
        jobs[parsed].out_h = out_h;
        if (parse_item(PySequence_Fast_GET_ITEM(sequence, parsed), &jobs[parsed], views + parsed * BUFFERS, slots, out.buf) < 0)
            goto done;
    }
    int status = 0;
    Py_BEGIN_ALLOW_THREADS;
    status = run_jobs(jobs, count, threads);
    Py_END_ALLOW_THREADS;
    if (status != 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    for (Py_ssize_t i = 0; i < parsed; i++)
        for (int b = 0; b < BUFFERS; b++) PyBuffer_Release(&views[i * BUFFERS + b]);
    PyMem_Free(jobs);
    PyMem_Free(views);
    Py_XDECREF(sequence);
    PyBuffer_Release(&out);
    return result;
}

/* set_simd(flag) -> previous flag; the SIMD path stays off on CPUs without AVX2. Lets tests run both paths. */
static PyObject *set_simd(PyObject *self, PyObject *args) {
    int flag;
    if (!PyArg_ParseTuple(args, "p", &flag)) return NULL;
    int previous = use_avx2;
#ifdef HAVE_AVX2_PATH
    use_avx2 = flag && __builtin_cpu_supports("avx2");
#endif
    return PyBool_FromLong(previous);
}

static PyMethodDef methods[] = {
    {"set_simd", set_simd, METH_VARARGS, "Turn the AVX2 path on or off (tests); returns the previous setting."},
    {"resize_many", resize_many, METH_VARARGS, "Pillow's convert('L') + 8-bit LANCZOS resize of Pillow image capsules."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_pillow_lanczos", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__pillow_lanczos(void) {
#ifdef HAVE_AVX2_PATH
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") != 0;
#endif
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "simd", use_avx2) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
