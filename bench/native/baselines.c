/*
 * Native baselines for `npm run bench -- --native`: C loops doing the same per-entry work as the
 * model's hot paths, so the JS/C ratio can be read side by side. Written for this project.
 *
 *   sync0 / sync100   kvm_sync_page over a 512-entry unsync level-1 table, twice per operation
 *                     (6.x kvm_sync_spte: read the gPTE, prefetch-invalid test, gfn and access,
 *                     compare with shadowed_translation; 100 %: the W bit of every gPTE toggled
 *                     before each sync, so every entry gets a new access and a rebuilt SPTE:
 *                     make_spte's mmu_try_to_unsync_pages for an SPTE that regains W (the
 *                     gfn's write-track count and hash chain) and its dirty-log test included)
 *   hitN              kvm_mmu_get_page hits: 512 lookups per operation among N pages hashed by
 *                     hash_64(gfn, 12) into 4096 buckets, compared on gfn and role
 *
 * With a third argument `all` (what `npm run bench -- --native` passes), also:
 *   sync10            as sync100 with every tenth gPTE changed (51 of 512, the JS case's indices)
 *   missN             get_page miss + zap among N hashed pages: a header and two pages (spt,
 *                     gfns) from free lists, both pages initialised (zero), hash and active-list
 *                     insert, write-track count; then prepare-zap (scan the 512 SPTEs, unlink,
 *                     unaccount) and commit (hash/list delete, the pages back to their lists)
 *   link              512 link_shadow_page (non-leaf SPTE written, parent pointer recorded) and
 *                     512 drop_parent_pte (parent removed, SPTE cleared), per pair
 *   walk4             a 4-level guest walk with A/D already set: per level read the gPTE, test
 *                     present and reserved bits, accumulate access, index the next table
 *   leaf              a leaf fault on existing shadow tables: the guest walk, the shadow walk
 *                     (3 present non-leaf SPTEs, the gPTE re-read per level), make_spte, rmap
 *                     add, the prefetch group's 7 present neighbours skipped; then the leaf
 *                     dropped again (clear + rmap remove)
 *   full              a full fault: the guest walk, 3 get_page misses (as missN) linked below
 *                     the root, the leaf and 7 prefetched SPTEs (gPTE read, make_spte, rmap
 *                     add), then the subtree zapped (prepare-zap of the 3 pages, leaves dropped
 *                     from their rmaps, commit)
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
/* make_spte's tests for an SPTE that regains W (defined with the shadow pages below) */
static int unsync_refused(uint64_t gfn);
static int slot_dirty_logging;

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
	/* make_spte: W regained goes through mmu_try_to_unsync_pages first */
	if ((access & 2) && !(old & W) && unsync_refused(gfn))
		access &= ~2u;
	uint64_t spte = (old & 0x000ffffffffff000ull) | P | A | (access & 4 ? U : 0) | (access & 2 ? W : 0) | (access & 1 ? 0 : NX) | (1ull << 11);
	if ((spte & W) && slot_dirty_logging) /* kvm_slot_dirty_track_enabled */
		sink++;
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
	int n = (512 * pct + 50) / 100;
	double step = n ? 512.0 / n : 0;
	for (int r = 0; r < 2; r++) {
		for (int k = 0; k < n; k++)
			gpte[(int)(k * step)] ^= W;
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


/* ---- shadow pages: get_page miss, link/drop, walks, faults, zap ---- */

#define NONPRESENT (1ull << 63) /* 6.x SHADOW_NONPRESENT_VALUE */
#define MMU_PRESENT (1ull << 11)

struct csp {
	uint64_t gfn;
	uint32_t role;
	int level;
	struct csp *hnext, **hpprev;
	struct csp *lnext, *lprev;
	uint64_t *spt, *gfns;
	uint64_t *parent_pte;
	struct csp *free_next;
};
static struct csp *chash[4096];
static struct csp active = { .lnext = &active, .lprev = &active };
static struct csp *sp_free;
static uint64_t *page_free[1 << 16];
static int npage_free;
static uint32_t write_track[1 << 16];
static uint64_t *rmap[1 << 16];
static struct csp *page_of[1 << 16]; /* page_private: the sp an spt page backs, by page index */
static uint64_t *page_base;

/*
 * mmu_try_to_unsync_pages for one gfn: its write-track count, then the pages shadowing it on
 * its hash chain (the sync cases' data gfns shadow nothing, so the chain walk finds none).
 */
static int unsync_refused(uint64_t gfn)
{
	if (write_track[gfn & 0xffff])
		return 1;
	for (struct csp *s = chash[hash_64(gfn)]; s; s = s->hnext)
		if (s->gfn == gfn)
			return 1;
	return 0;
}

static uint64_t *page_alloc(void)
{
	return page_free[--npage_free];
}
static void page_put(uint64_t *p)
{
	page_free[npage_free++] = p;
}
static unsigned page_index(uint64_t *p)
{
	return (unsigned)((p - page_base) / 512);
}

static void pages_init(void)
{
	if (page_base)
		return;
	page_base = aligned_alloc(4096, (size_t)4096 * 4096);
	for (int i = 4095; i >= 0; i--)
		page_put(page_base + (size_t)i * 512);
	for (int i = 0; i < 1024; i++) {
		struct csp *s = calloc(1, sizeof *s);
		s->free_next = sp_free;
		sp_free = s;
	}
}

static struct csp *find_sp(uint64_t gfn, uint32_t role)
{
	for (struct csp *s = chash[hash_64(gfn)]; s; s = s->hnext)
		if (s->gfn == gfn && s->role == role)
			return s;
	return NULL;
}

static struct csp *alloc_sp(uint64_t gfn, uint32_t role, int level, uint64_t init)
{
	struct csp *s = sp_free;
	sp_free = s->free_next;
	s->gfn = gfn;
	s->role = role;
	s->level = level;
	s->spt = page_alloc();
	s->gfns = page_alloc();
	for (int i = 0; i < 512; i++)
		s->spt[i] = init;
	memset(s->gfns, 0, 4096);
	s->parent_pte = NULL;
	page_of[page_index(s->spt)] = s;
	unsigned b = hash_64(gfn);
	s->hnext = chash[b];
	if (chash[b])
		chash[b]->hpprev = &s->hnext;
	chash[b] = s;
	s->hpprev = &chash[b];
	s->lnext = active.lnext;
	s->lprev = &active;
	active.lnext->lprev = s;
	active.lnext = s;
	write_track[gfn & 0xffff]++;
	return s;
}

static void rmap_add(uint64_t *sptep, uint64_t gfn)
{
	rmap[gfn & 0xffff] = sptep;
}
static void rmap_remove(uint64_t gfn)
{
	rmap[gfn & 0xffff] = NULL;
}

/* prepare-zap: children unlinked (non-leaf) or leaves dropped, parents unlinked, unaccounted. */
static void prepare_zap(struct csp *s, uint64_t empty)
{
	for (int i = 0; i < 512; i++) {
		uint64_t e = s->spt[i];
		if (e == empty || !(e & MMU_PRESENT))
			continue;
		if (s->level == 1) {
			s->spt[i] = empty;
			rmap_remove(s->gfns[i] >> 12);
		} else {
			page_of[page_index((uint64_t *)(uintptr_t)(e & 0x000ffffffffff000ull))]->parent_pte = NULL;
			s->spt[i] = empty;
		}
	}
	if (s->parent_pte) {
		*s->parent_pte = empty;
		s->parent_pte = NULL;
	}
	write_track[s->gfn & 0xffff]--;
	s->lprev->lnext = s->lnext;
	s->lnext->lprev = s->lprev;
}

static void commit_zap(struct csp *s)
{
	*s->hpprev = s->hnext;
	if (s->hnext)
		s->hnext->hpprev = s->hpprev;
	page_put(s->gfns);
	page_put(s->spt);
	s->free_next = sp_free;
	sp_free = s;
}

static uint64_t spa(uint64_t *page)
{
	return (uint64_t)(uintptr_t)page;
}
static uint64_t nonleaf(uint64_t *child)
{
	return (spa(child) & 0x000ffffffffff000ull) | MMU_PRESENT | P | W | U | A;
}
static uint64_t *child_of(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & 0x000ffffffffff000ull);
}

static uint64_t miss_next;
static uint32_t miss_role = 0x3701;
static void miss_init(int n)
{
	pages_init();
	memset(chash, 0, sizeof chash);
	active.lnext = active.lprev = &active;
	static struct csp *keep;
	free(keep);
	keep = calloc(n, sizeof *keep);
	for (int g = 1; g <= n; g++) {
		struct csp *s = &keep[g - 1];
		s->gfn = g;
		s->role = miss_role;
		unsigned b = hash_64(g);
		s->hnext = chash[b];
		if (chash[b])
			chash[b]->hpprev = &s->hnext;
		chash[b] = s;
		s->hpprev = &chash[b];
	}
	miss_next = n + 1;
}
static void miss_case(int n)
{
	(void)n;
	uint64_t gfn = miss_next++;
	struct csp *s = find_sp(gfn, miss_role);
	if (!s)
		s = alloc_sp(gfn, miss_role, 1, 0);
	prepare_zap(s, 0);
	commit_zap(s);
}

static uint64_t *link_root;
static struct csp *link_kids[512];
static void link_init(void)
{
	pages_init();
	link_root = page_alloc();
	memset(link_root, 0, 4096);
	for (int i = 0; i < 512; i++) {
		link_kids[i] = calloc(1, sizeof(struct csp));
		link_kids[i]->spt = page_base + (size_t)(i + 1) * 512;
	}
}
static void link_case(int unused)
{
	(void)unused;
	for (int i = 0; i < 512; i++) {
		if (link_root[i] & MMU_PRESENT)
			abort();
		link_root[i] = nonleaf(link_kids[i]->spt);
		link_kids[i]->parent_pte = &link_root[i];
	}
	for (int i = 0; i < 512; i++) {
		if (link_kids[i]->parent_pte != &link_root[i])
			abort();
		link_kids[i]->parent_pte = NULL;
		link_root[i] = 0;
	}
}

/* The guest: 4 tables at gfns 0x100..0x103, a leaf table mapping 512 data pages. */
static uint64_t gmem[4][512];
#define RSVD_NONLEAF (0x000fc00000000000ull | (1ull << 7))
static int gwalk(uint64_t va, uint64_t *gptes, unsigned *access, uint64_t *gfn)
{
	unsigned acc = 7;
	uint64_t table = 0;
	for (int level = 4; level >= 1; level--) {
		unsigned idx = (va >> (12 + 9 * (level - 1))) & 511;
		uint64_t g = gmem[table][idx];
		if (!(g & P))
			return 0;
		if (g & (level == 1 ? RSVD_L1 : RSVD_NONLEAF & ~(1ull << 7)))
			return 0;
		if (!(g & A))
			gmem[table][idx] = g | A;
		acc &= (unsigned)((g & 7) ^ (g >> 63)) | 1;
		gptes[4 - level] = g;
		if (level == 1)
			*gfn = (g >> 12) & 0xffffffffffull;
		else
			table = ((g >> 12) & 0xffffffffffull) - 0x100;
	}
	*access = acc;
	return 1;
}
static void guest_init(void)
{
	for (int l = 0; l < 3; l++)
		gmem[l][0] = ((0x101ull + l) << 12) | P | W | U | A;
	for (int i = 0; i < 512; i++)
		gmem[3][i] = ((0x400ull + i) << 12) | P | W | U | A | D;
}
static void walk4_case(int unused)
{
	(void)unused;
	uint64_t g[4], gfn;
	unsigned acc;
	sink += gwalk(0x5000, g, &acc, &gfn) + gfn;
}

static uint64_t make_leaf(uint64_t pfn, unsigned access, int prefetch)
{
	uint64_t s = MMU_PRESENT | P | (pfn << 12) | (1ull << 10) /* host-writable */;
	if (!prefetch)
		s |= A;
	if (access & 4)
		s |= U;
	if (!(access & 1))
		s |= NX;
	if (access & 2)
		s |= W | D | (1ull << 9);
	return s;
}

/* Root (level 4) and, for the leaf case, 3 pages below it kept mapped. */
static struct csp *froot;
static void fault_init(int keep_tables)
{
	pages_init();
	guest_init();
	memset(chash, 0, sizeof chash);
	active.lnext = active.lprev = &active;
	if (!froot)
		froot = alloc_sp(0x100, 0x3704, 4, NONPRESENT);
	for (int i = 0; i < 512; i++)
		froot->spt[i] = NONPRESENT;
	if (keep_tables) {
		uint64_t *parent = &froot->spt[0];
		for (int level = 3; level >= 1; level--) {
			struct csp *s = alloc_sp(0x104 - level, 0x3700 | level, level, NONPRESENT);
			*parent = nonleaf(s->spt);
			s->parent_pte = parent;
			parent = &s->spt[0];
		}
	}
}

static void fault_leaf_group(struct csp *l1, uint64_t *g, unsigned access, uint64_t gfn, unsigned idx)
{
	uint64_t *sptep = &l1->spt[idx];
	*sptep = make_leaf(0x2000000 + gfn, access, 0);
	l1->gfns[idx] = (gfn << 12) | access;
	rmap_add(sptep, gfn);
	unsigned first = idx & ~7u;
	for (unsigned i = first; i < first + 8; i++) {
		if (i == idx || (l1->spt[i] & MMU_PRESENT))
			continue;
		uint64_t e = gmem[3][i];
		if (!(e & P) || !(e & A) || (e & RSVD_L1))
			break;
		uint64_t pg = (e >> 12) & 0xffffffffffull;
		unsigned a = (unsigned)((e & 7) ^ (e >> 63)) & access;
		l1->spt[i] = make_leaf(0x2000000 + pg, a, 1);
		l1->gfns[i] = (pg << 12) | a;
		rmap_add(&l1->spt[i], pg);
	}
	(void)g;
}

static void leaf_case(int unused)
{
	(void)unused;
	uint64_t g[4], gfn;
	unsigned acc;
	if (!gwalk(0x5000, g, &acc, &gfn))
		abort();
	uint64_t *table = froot->spt;
	for (int level = 4; level > 1; level--) {
		uint64_t e = table[0];
		if (!(e & MMU_PRESENT))
			abort();
		if (gmem[4 - level][0] != g[4 - level]) /* FNAME(gpte_changed) */
			abort();
		table = child_of(e);
	}
	struct csp *l1 = page_of[page_index(table)];
	fault_leaf_group(l1, g, acc, gfn, 5);
	/* drop the leaf again */
	l1->spt[5] = NONPRESENT;
	rmap_remove(gfn);
}

static void full_case(int unused)
{
	(void)unused;
	uint64_t g[4], gfn;
	unsigned acc;
	if (!gwalk(0x5000, g, &acc, &gfn))
		abort();
	uint64_t *parent = &froot->spt[0];
	struct csp *made[3];
	for (int level = 3; level >= 1; level--) {
		uint64_t tgfn = 0x104 - level;
		struct csp *s = find_sp(tgfn, 0x3700 | level);
		if (!s)
			s = alloc_sp(tgfn, 0x3700 | level, level, NONPRESENT);
		*parent = nonleaf(s->spt);
		s->parent_pte = parent;
		made[3 - level] = s;
		parent = &s->spt[0];
	}
	fault_leaf_group(made[2], g, acc, gfn, 5);
	for (int k = 0; k < 3; k++) {
		struct csp *s = made[k];
		for (int i = 0; i < 512; i++) {
			uint64_t e = s->spt[i];
			if (e == NONPRESENT)
				continue;
			if (s->level == 1)
				rmap_remove(s->gfns[i] >> 12);
			else
				page_of[page_index(child_of(e))]->parent_pte = NULL;
			s->spt[i] = NONPRESENT;
		}
		if (s->parent_pte)
			*s->parent_pte = NONPRESENT;
		write_track[s->gfn & 0xffff]--;
		s->lprev->lnext = s->lnext;
		s->lnext->lprev = s->lprev;
	}
	sink += (uintptr_t)made[0]->spt[0];
	for (int k = 0; k < 3; k++)
		commit_zap(made[k]);
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
	if (argc > 3 && strcmp(argv[3], "all") == 0) {
		sync_init();
		measure("sync10", 1024, sync_case, 10, rounds, secs);
		for (int i = 0; i < 4; i++) {
			char name[32];
			snprintf(name, sizeof name, "miss%d", sizes[i]);
			miss_init(sizes[i]);
			measure(name, 1, miss_case, sizes[i], rounds, secs);
		}
		link_init();
		measure("link", 512, link_case, 0, rounds, secs);
		guest_init();
		measure("walk4", 1, walk4_case, 0, rounds, secs);
		fault_init(1);
		measure("leaf", 1, leaf_case, 0, rounds, secs);
		fault_init(0);
		measure("full", 1, full_case, 0, rounds, secs);
	}
	return (int)(sink & 0);
}
