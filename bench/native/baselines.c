/*
 * Native baselines for `npm run bench -- --native`: C loops doing the same per-entry work as the
 * model's hot paths, so the JS/C ratio can be read side by side. Written for this project.
 *
 *   sync0 / sync100   kvm_sync_page over a 512-entry unsync level-1 table, twice per operation
 *                     (6.x kvm_sync_spte: read the gPTE, prefetch-invalid test, gfn and access,
 *                     compare with shadowed_translation; 100 %: the W bit of every gPTE toggled
 *                     before each sync, so every entry gets a new access and a rebuilt SPTE)
 *   hitN              kvm_mmu_get_page hits: 512 lookups per operation among N pages hashed by
 *                     hash_64(gfn, 12) into 4096 buckets, compared on gfn and role
 *
 * Output: one JSON object per case: {"case", "units_per_op", "ns_per_op": [round...]}.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

#define P (1ull << 0)
#define W (1ull << 1)
#define U (1ull << 2)
#define A (1ull << 5)
#define D (1ull << 6)
#define NX (1ull << 63)
#define RSVD_L1 (0x000fc00000000000ull) /* bits 51:46 with MAXPHYADDR 46 */

static uint64_t gpte[512], gfns[512], spt[512];
static volatile uint64_t sink;

static int sync_spte(int i)
{
	uint64_t g = gpte[i];
	if (!(g & P) || !(g & A) || (g & RSVD_L1)) {
		spt[i] = 0;
		return 1;
	}
	uint64_t gfn = (g >> 12) & 0xffffffffffull;
	unsigned access = (unsigned)((g & 7) ^ (g >> 63)) & 7;
	if (!(g & D))
		access &= ~2u;
	if (gfn != gfns[i] >> 12) {
		spt[i] = 0;
		return 1;
	}
	if ((gfns[i] & 7) == access)
		return 0;
	gfns[i] = (gfn << 12) | access;
	uint64_t old = spt[i];
	uint64_t spte = (old & 0x000ffffffffff000ull) | P | A | (access & 4 ? U : 0) | (access & 2 ? W : 0) | (access & 1 ? 0 : NX) | (1ull << 11);
	spt[i] = spte;
	return (old & W) && !(spte & W);
}

static int sync_page(void)
{
	int flush = 0;
	for (int i = 0; i < 512; i++) {
		if (spt[i] == 0)
			continue;
		flush |= sync_spte(i);
	}
	return flush;
}

static void sync_init(void)
{
	for (int i = 0; i < 512; i++) {
		uint64_t gfn = 0x400 + i;
		gpte[i] = (gfn << 12) | P | W | U | A | D;
		gfns[i] = (gfn << 12) | 7;
		spt[i] = ((0x2000000ull + gfn) << 12) | P | W | U | A | (1ull << 11);
	}
}

static void sync_op(int pct)
{
	for (int r = 0; r < 2; r++) {
		if (pct)
			for (int i = 0; i < 512; i++)
				gpte[i] ^= W;
		sink += sync_page();
	}
}

struct sp {
	uint64_t gfn;
	uint32_t role;
	struct sp *next;
};
static struct sp *hash[4096];
static struct sp *pages;

static unsigned hash_64(uint64_t v)
{
	return (unsigned)((v * 0x61C8864680B583EBull) >> 52);
}

static void hit_init(int n)
{
	memset(hash, 0, sizeof hash);
	free(pages);
	pages = calloc(n, sizeof *pages);
	for (int g = 1; g <= n; g++) {
		struct sp *s = &pages[g - 1];
		s->gfn = g;
		s->role = 0x3701;
		unsigned b = hash_64(g);
		s->next = hash[b];
		hash[b] = s;
	}
}

static int hit_off;
static void hit_op(int n)
{
	for (int k = 0; k < 512; k++) {
		uint64_t gfn = 1 + ((hit_off + (uint64_t)k * 7919) % n);
		struct sp *s = hash[hash_64(gfn)];
		while (s && !(s->gfn == gfn && s->role == 0x3701))
			s = s->next;
		sink += (uintptr_t)s;
	}
	hit_off = (hit_off + 1) % n;
}

static void measure(const char *name, int units, void (*op)(int), int arg, int rounds, double secs)
{
	printf("{\"case\":\"%s\",\"units_per_op\":%d,\"ns_per_op\":[", name, units);
	for (int r = 0; r < rounds; r++) {
		long n = 0;
		double t0 = now_ns(), t;
		do {
			for (int k = 0; k < 64; k++)
				op(arg);
			n += 64;
			t = now_ns();
		} while (t - t0 < secs * 1e9);
		printf("%s%.3f", r ? "," : "", (t - t0) / n);
	}
	printf("]}\n");
}

static void sync_case(int pct) { sync_op(pct); }
static void hit_case(int n) { hit_op(n); }

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3;
	double secs = argc > 2 ? atof(argv[2]) : 0.3;
	sync_init();
	measure("sync0", 1024, sync_case, 0, rounds, secs);
	sync_init();
	measure("sync100", 1024, sync_case, 100, rounds, secs);
	int sizes[] = { 100, 1000, 10000, 100000 };
	for (int i = 0; i < 4; i++) {
		char name[32];
		snprintf(name, sizeof name, "hit%d", sizes[i]);
		hit_init(sizes[i]);
		measure(name, 512, hit_case, sizes[i], rounds, secs);
	}
	return (int)(sink & 0);
}
