/* lm_clock_page.c — the shared clock page (see lm_clock_page.h).
 *
 * Layout: one page, fields 8-byte aligned atomics so a mapping in another
 * process reads them whole. The seqlock: the writer makes `seq` odd, stores
 * the anchor, makes it even again; a reader takes (seq, fields, real time,
 * seq) and retries unless both seq reads are the same even number. The
 * fences are sequentially consistent so the writer's odd `seq` is visible
 * before it samples the real clock for the new anchor, and the reader's
 * real-time sample comes before its second `seq` read. */
#include "lm_clock_page.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE_MAGIC    "LMCLOCK"
#define PAGE_VERSION  1u
#define PAGE_BYTES    4096
#define PATH_MAX_LEN  4096
#define PAGE_STUCK_US 1000000 /* an odd seq this long: its writer died */

typedef struct page_data {
    char magic[8];
    uint32_t version, size;
    _Atomic uint64_t seq;
    _Atomic int64_t real_us;         /* CLOCK_MONOTONIC at the anchor */
    _Atomic int64_t sim_us;          /* simulated epoch µs at the anchor */
    _Atomic uint64_t scale_bits;     /* double */
    _Atomic uint64_t max_scale_bits; /* double */
} page_data;

_Static_assert(sizeof(page_data) <= PAGE_BYTES, "the clock fits a page");

struct lm_clock_page {
    page_data *d;
    int writable;
    char path[PATH_MAX_LEN];
};

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t dbits(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    return b;
}

static double bitsd(uint64_t b) {
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

/* One consistent snapshot of the anchor, with the real time sampled inside
 * the read. */
typedef struct snap {
    int64_t real_us, sim_us, t_us;
    double scale;
} snap;

static void page_read(const page_data *d, snap *s) {
    int64_t odd_since = 0;
    for (;;) {
        uint64_t s1 = atomic_load_explicit(&d->seq, memory_order_acquire);
        int stuck = 0;
        if (s1 & 1) { /* the writer is between its two stores */
            int64_t t = mono_us();
            if (!odd_since)
                odd_since = t;
            /* a writer dead there never finishes: take the fields as
               they are rather than wait for ever */
            stuck = t - odd_since > PAGE_STUCK_US;
            if (!stuck) {
                sched_yield();
                continue;
            }
        }
        s->real_us = atomic_load_explicit(&d->real_us, memory_order_relaxed);
        s->sim_us = atomic_load_explicit(&d->sim_us, memory_order_relaxed);
        s->scale =
            bitsd(atomic_load_explicit(&d->scale_bits, memory_order_relaxed));
        s->t_us = mono_us();
        atomic_thread_fence(memory_order_seq_cst);
        if (stuck || atomic_load_explicit(&d->seq, memory_order_relaxed) == s1)
            return;
    }
}

static int64_t snap_sim_us(const snap *s) {
    return s->sim_us + (int64_t)((double)(s->t_us - s->real_us) * s->scale);
}

static int64_t floor_ms(int64_t us) {
    return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
}

int64_t lm_clock_page_now_ms(const lm_clock_page *p) {
    snap s;
    page_read(p->d, &s);
    return floor_ms(snap_sim_us(&s));
}

double lm_clock_page_scale(const lm_clock_page *p) {
    snap s;
    page_read(p->d, &s);
    return s.scale;
}

double lm_clock_page_max_scale(const lm_clock_page *p) {
    return bitsd(
        atomic_load_explicit(&p->d->max_scale_bits, memory_order_relaxed));
}

int lm_clock_page_set(lm_clock_page *p, double scale) {
    if (!p || !p->writable || !(scale > 0) ||
        scale > lm_clock_page_max_scale(p))
        return -1;
    page_data *d = p->d;
    uint64_t seq = atomic_load_explicit(&d->seq, memory_order_relaxed);
    atomic_store_explicit(&d->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    /* the single writer: the fields below are its own last stores */
    snap s = {
        .real_us = atomic_load_explicit(&d->real_us, memory_order_relaxed),
        .sim_us = atomic_load_explicit(&d->sim_us, memory_order_relaxed),
        .scale =
            bitsd(atomic_load_explicit(&d->scale_bits, memory_order_relaxed)),
        .t_us = mono_us()};
    int64_t sim = snap_sim_us(&s); /* where the old scale has got to */
    atomic_store_explicit(&d->real_us, s.t_us, memory_order_relaxed);
    atomic_store_explicit(&d->sim_us, sim, memory_order_relaxed);
    atomic_store_explicit(&d->scale_bits, dbits(scale), memory_order_relaxed);
    atomic_store_explicit(&d->seq, seq + 2, memory_order_release);
    return 0;
}

static lm_clock_page *page_map(int fd, const char *path, int writable,
                               char *err, size_t errsz) {
    lm_clock_page *p = calloc(1, sizeof(*p));
    void *m = MAP_FAILED;
    if (p)
        m = mmap(NULL, PAGE_BYTES,
                 writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd,
                 0);
    if (!p || m == MAP_FAILED) {
        snprintf(err, errsz, "%s: cannot map the clock file: %s", path,
                 p ? strerror(errno) : "out of memory");
        free(p);
        return NULL;
    }
    p->d = m;
    p->writable = writable;
    snprintf(p->path, sizeof(p->path), "%s", path);
    return p;
}

lm_clock_page *lm_clock_page_create(const char *path, double scale,
                                    double max_scale, int64_t sim_now_ms,
                                    char *err, size_t errsz) {
    char tmp[PATH_MAX_LEN + 8];
    if (!(scale > 0) || scale > max_scale || strlen(path) >= PATH_MAX_LEN) {
        snprintf(err, errsz,
                 "%s: a clock needs 0 < scale <= max scale and a path "
                 "shorter than %d bytes",
                 path, PATH_MAX_LEN);
        return NULL;
    }
    /* written whole under a temporary name, then linked into place, so a
       reader never sees a half-written page */
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, PAGE_BYTES) != 0) {
        snprintf(err, errsz, "%s: cannot create the clock file: %s", tmp,
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return NULL;
    }
    lm_clock_page *p = page_map(fd, path, 1, err, errsz);
    close(fd);
    if (!p) {
        unlink(tmp);
        return NULL;
    }
    page_data *d = p->d;
    memcpy(d->magic, PAGE_MAGIC, sizeof(PAGE_MAGIC));
    d->version = PAGE_VERSION;
    d->size = (uint32_t)sizeof(page_data);
    atomic_store(&d->max_scale_bits, dbits(max_scale));
    atomic_store(&d->scale_bits, dbits(scale));
    atomic_store(&d->sim_us, sim_now_ms * 1000);
    atomic_store(&d->real_us, mono_us());
    atomic_store(&d->seq, 0);
    if (link(tmp, path) != 0) {
        snprintf(err, errsz, "%s: cannot create the clock file: %s", path,
                 strerror(errno));
        unlink(tmp);
        lm_clock_page_close(p, 0);
        return NULL;
    }
    unlink(tmp);
    return p;
}

lm_clock_page *lm_clock_page_open(const char *path, char *err, size_t errsz) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errsz,
                 "%s: cannot open the shared clock: %s (the process that "
                 "owns the clock, e.g. `lastmile demo`, creates it before "
                 "starting the fleet; unset LASTMILE_TIME_PATH to use the "
                 "wall clock)",
                 path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (st.st_size < PAGE_BYTES) {
        snprintf(err, errsz,
                 "%s: is not a lastmile clock file (%lld bytes, a clock "
                 "has %d); point LASTMILE_TIME_PATH at the file its owner "
                 "created",
                 path, (long long)st.st_size, PAGE_BYTES);
        close(fd);
        return NULL;
    }
    lm_clock_page *p = page_map(fd, path, 0, err, errsz);
    close(fd);
    if (!p)
        return NULL;
    const page_data *d = p->d;
    double ms = lm_clock_page_max_scale(p);
    if (memcmp(d->magic, PAGE_MAGIC, sizeof(PAGE_MAGIC)) != 0 ||
        d->version != PAGE_VERSION || d->size != sizeof(page_data) ||
        !(ms > 0)) {
        snprintf(err, errsz,
                 "%s: is not a lastmile clock file (bad magic, version or "
                 "size); point LASTMILE_TIME_PATH at the file its owner "
                 "created",
                 path);
        lm_clock_page_close(p, 0);
        return NULL;
    }
    return p;
}

void lm_clock_page_close(lm_clock_page *p, int unlink_file) {
    if (!p)
        return;
    munmap(p->d, PAGE_BYTES);
    if (unlink_file)
        unlink(p->path);
    free(p);
}
