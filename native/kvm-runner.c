// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvm-runner: the live half of `shadow-mmu kvm run|diff|fuzz`. A small ioctl server for one VM
 * at a time on /dev/kvm: guest RAM in this process (so KVM sees exactly the host mappings a
 * userspace VMM has), KVM_CREATE_VM / _VCPU, KVM_SET_SREGS / _REGS / _GUEST_DEBUG, KVM_RUN,
 * KVM_TRANSLATE and the binary stats. Everything else — the guest layout, what a step does,
 * the trace — is the TypeScript side's (src/live/), which drives this over two FIFOs.
 *
 * Protocol: one command per line on the command FIFO; the reply is zero or more data lines then
 * "." (done) or "! MESSAGE" (the command failed, nothing changed). Numbers are C-style
 * (0x.. or decimal); replies print hex.
 *
 *   mem SIZE                      map SIZE bytes of guest RAM (MAP_SHARED|MAP_ANONYMOUS)
 *   w GPA SIZE VALUE / r GPA SIZE write / read 1, 2, 4 or 8 bytes     -> "v VALUE"
 *   fill GPA LEN BYTE             memset
 *   cpuid LEAF INDEX REG SET CLR  an override applied at create (REG 0..3 = eax..edx)
 *   create                        VM, memory slot 0 over all RAM, vCPU 0, supported CPUID, stats
 *   sregs CR0 CR3 CR4 EFER SEG MODE CPL SYSGPA
 *                                 KVM_GET_SREGS, the control registers replaced, and with SEG=2
 *                                 the whole segment state built for MODE (0 long, 1 prot, 2 real)
 *                                 and CPL, with SEG=1 only CS..GS; KVM_SET_SREGS -> "e ERRNO"
 *   sget                          -> "s CR0 CR2 CR3 CR4 EFER CS_DPL CS_L CS_DB"
 *   regs RIP RAX RBX RCX RDX RSP RFLAGS / gregs  -> "g RIP RAX RBX RCX RDX RSP RFLAGS"
 *   debug 0|1                     KVM_SET_GUEST_DEBUG (1: enable + single-step)  -> "e ERRNO"
 *   pkru VALUE                    PKRU through the XSAVE image (component 9)
 *   run TIMEOUT_MS                KVM_RUN until a stopping exit (MMIO completes, reads 0), at
 *                                 most 16 times; one "x REASON CODE [details]" line per exit
 *   translate VA                  -> "t RC ERRNO PA VALID WRITEABLE USERMODE"
 *   cpuidq LEAF INDEX             KVM's supported CPUID entry -> "c EAX EBX ECX EDX" (none: "c -")
 *   statdesc / stats              -> "D vm|vcpu INDEX FLAGS NAME" / "S vm|vcpu INDEX VALUE"
 *   destroy                       close the VM (its teardown runs in this process)
 *   quit
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#define RUNNER_VERSION "1"

static FILE *in, *out;
static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct kvm_run *run_page;
static size_t run_size;
static uint8_t *ram;
static uint64_t ram_size;
static volatile sig_atomic_t alarm_hit;

struct cpuid_override {
	uint32_t leaf, index, reg, set, clr;
};
static struct cpuid_override overrides[32];
static int n_overrides;

struct stats_fd {
	int fd;
	struct kvm_stats_header hdr;
	struct kvm_stats_desc *desc; /* hdr.num_desc entries of desc_size bytes (name follows) */
	size_t desc_size;
	uint64_t *data;
	size_t data_words;
};
static struct stats_fd st_vm = { .fd = -1 }, st_vcpu = { .fd = -1 };

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	fputs("! ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static void done(void)
{
	fputs(".\n", out);
}

static int num(const char *s, uint64_t *v)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

/* argv-style split of one line, in place */
static int split(char *line, char **argv, int max)
{
	int n = 0;
	for (char *t = strtok(line, " \t\r\n"); t && n < max; t = strtok(NULL, " \t\r\n"))
		argv[n++] = t;
	return n;
}

static int nums(char **argv, int argc, int from, uint64_t *v, int want)
{
	if (argc - from != want)
		return -1;
	for (int i = 0; i < want; i++)
		if (num(argv[from + i], &v[i]))
			return -1;
	return 0;
}

static int in_ram(uint64_t gpa, uint64_t len)
{
	return ram && gpa <= ram_size && len <= ram_size - gpa;
}

static void on_alarm(int sig)
{
	(void)sig;
	alarm_hit = 1;
}

/* ------------------------------------------------------------------ stats */

static void stats_close(struct stats_fd *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->desc);
	free(s->data);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

static int stats_open(struct stats_fd *s, int obj)
{
	stats_close(s);
	int fd = ioctl(obj, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return -1;
	s->fd = fd;
	if (pread(fd, &s->hdr, sizeof s->hdr, 0) != (ssize_t)sizeof s->hdr)
		return -1;
	s->desc_size = sizeof(struct kvm_stats_desc) + s->hdr.name_size;
	s->desc = calloc(s->hdr.num_desc, s->desc_size);
	if (!s->desc)
		return -1;
	ssize_t want = (ssize_t)(s->hdr.num_desc * s->desc_size);
	if (pread(fd, s->desc, want, s->hdr.desc_offset) != want)
		return -1;
	size_t words = 0;
	for (uint32_t i = 0; i < s->hdr.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)((char *)s->desc + i * s->desc_size);
		if (d->offset / 8 + d->size > words)
			words = d->offset / 8 + d->size;
	}
	s->data_words = words;
	s->data = calloc(words ? words : 1, 8);
	return s->data ? 0 : -1;
}

static void stats_print(struct stats_fd *s, const char *who, int desc)
{
	if (s->fd < 0)
		return;
	if (!desc) {
		ssize_t want = (ssize_t)(s->data_words * 8);
		if (pread(s->fd, s->data, want, s->hdr.data_offset) != want)
			return;
	}
	for (uint32_t i = 0; i < s->hdr.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)((char *)s->desc + i * s->desc_size);
		if (d->size != 1)
			continue; /* histograms: not reported */
		if (desc)
			fprintf(out, "D %s %u 0x%x %s\n", who, i, d->flags, d->name);
		else
			fprintf(out, "S %s %u 0x%" PRIx64 "\n", who, i, s->data[d->offset / 8]);
	}
}

/* ------------------------------------------------------------------ VM */

static void vm_destroy(void)
{
	stats_close(&st_vm);
	stats_close(&st_vcpu);
	if (run_page)
		munmap(run_page, run_size);
	run_page = NULL;
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	if (vm_fd >= 0)
		close(vm_fd);
	vcpu_fd = vm_fd = -1;
}

static void cmd_create(void)
{
	if (!ram) {
		fail("create: no guest RAM (mem first)");
		return;
	}
	if (vm_fd >= 0) {
		fail("create: a VM exists (destroy first)");
		return;
	}
	int e;
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		fail("KVM_CREATE_VM: %s", strerror(errno));
		return;
	}
	struct kvm_userspace_memory_region r = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = ram_size,
		.userspace_addr = (uint64_t)(uintptr_t)ram,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		e = errno;
		vm_destroy();
		fail("KVM_SET_USER_MEMORY_REGION: %s", strerror(e));
		return;
	}
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0) {
		e = errno;
		vm_destroy();
		fail("KVM_CREATE_VCPU: %s", strerror(e));
		return;
	}
	int sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	run_page = sz > 0 ? mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0) : MAP_FAILED;
	if (run_page == MAP_FAILED) {
		run_page = NULL;
		vm_destroy();
		fail("mmap kvm_run failed");
		return;
	}
	run_size = sz;
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cp;
	memset(&cp, 0, sizeof cp);
	cp.c.nent = 256;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, &cp) < 0) {
		e = errno;
		vm_destroy();
		fail("KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
		return;
	}
	for (int i = 0; i < n_overrides; i++) {
		struct cpuid_override *o = &overrides[i];
		int found = 0;
		for (uint32_t j = 0; j < cp.c.nent; j++) {
			struct kvm_cpuid_entry2 *x = &cp.e[j];
			if (x->function != o->leaf || x->index != o->index)
				continue;
			uint32_t *reg = o->reg == 0 ? &x->eax : o->reg == 1 ? &x->ebx : o->reg == 2 ? &x->ecx : &x->edx;
			*reg = (*reg & ~o->clr) | o->set;
			found = 1;
		}
		if (!found) {
			vm_destroy();
			fail("cpuid: leaf 0x%x index %u is not in KVM's supported CPUID", o->leaf, o->index);
			return;
		}
	}
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, &cp) < 0) {
		e = errno;
		vm_destroy();
		fail("KVM_SET_CPUID2: %s", strerror(e));
		return;
	}
	if (stats_open(&st_vm, vm_fd) || stats_open(&st_vcpu, vcpu_fd)) {
		vm_destroy();
		fail("KVM_GET_STATS_FD failed");
		return;
	}
	done();
}

/* One segment as the guest layout wants it: flat, present, DPL = CPL (real mode: base sel*16). */
static void seg_build(struct kvm_segment *s, uint16_t sel, int code, int dpl, int mode)
{
	memset(s, 0, sizeof *s);
	s->selector = sel;
	s->present = 1;
	s->s = 1;
	s->type = code ? 0xb : 0x3;
	if (mode == 2) {
		s->base = (uint64_t)sel << 4;
		s->limit = 0xffff;
		return;
	}
	s->dpl = dpl;
	s->limit = 0xffffffff;
	s->g = 1;
	if (code && mode == 0)
		s->l = 1;
	else
		s->db = 1;
}

static void cmd_sregs(char **argv, int argc)
{
	uint64_t v[8];
	if (nums(argv, argc, 1, v, 8)) {
		fail("sregs: expected CR0 CR3 CR4 EFER SEG MODE CPL SYSGPA");
		return;
	}
	if (vcpu_fd < 0) {
		fail("sregs: no VM");
		return;
	}
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fail("KVM_GET_SREGS: %s", strerror(errno));
		return;
	}
	int seg = (int)v[4], mode = (int)v[5], cpl = (int)v[6];
	if (seg) {
		int dpl = mode == 2 ? 0 : cpl;
		uint16_t cs = cpl == 3 ? 0x33 : 0x10, ds = cpl == 3 ? 0x2b : 0x18;
		if (mode == 2)
			cs = ds = 0;
		seg_build(&s.cs, cs, 1, dpl, mode);
		seg_build(&s.ds, ds, 0, dpl, mode);
		s.es = s.fs = s.gs = s.ss = s.ds;
	}
	if (seg == 2) {
		memset(&s.tr, 0, sizeof s.tr);
		s.tr.base = v[7] + 0x3000;
		s.tr.limit = 0x67;
		s.tr.type = 11; /* busy 64-bit TSS */
		s.tr.present = 1;
		memset(&s.ldt, 0, sizeof s.ldt);
		s.ldt.unusable = 1;
		s.ldt.type = 2;
		/* IDT limit 0: an exception the guest would take becomes a triple fault at once */
		s.idt.base = s.idt.limit = 0;
		s.gdt.base = s.gdt.limit = 0;
	}
	s.cr0 = v[0];
	s.cr3 = v[1];
	s.cr4 = v[2];
	s.efer = v[3];
	int rc = ioctl(vcpu_fd, KVM_SET_SREGS, &s);
	fprintf(out, "e %d\n", rc < 0 ? errno : 0);
	done();
}

static void cmd_sget(void)
{
	struct kvm_sregs s;
	if (vcpu_fd < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fail("KVM_GET_SREGS: %s", vcpu_fd < 0 ? "no VM" : strerror(errno));
		return;
	}
	fprintf(out, "s 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx %u %u %u\n", s.cr0, s.cr2, s.cr3, s.cr4,
		s.efer, s.cs.dpl, s.cs.l, s.cs.db);
	done();
}

static void cmd_regs(char **argv, int argc)
{
	uint64_t v[7];
	if (nums(argv, argc, 1, v, 7)) {
		fail("regs: expected RIP RAX RBX RCX RDX RSP RFLAGS");
		return;
	}
	struct kvm_regs r;
	if (vcpu_fd < 0 || ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0) {
		fail("KVM_GET_REGS: %s", vcpu_fd < 0 ? "no VM" : strerror(errno));
		return;
	}
	r.rip = v[0], r.rax = v[1], r.rbx = v[2], r.rcx = v[3], r.rdx = v[4], r.rsp = v[5], r.rflags = v[6];
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0) {
		fail("KVM_SET_REGS: %s", strerror(errno));
		return;
	}
	done();
}

static void cmd_gregs(void)
{
	struct kvm_regs r;
	if (vcpu_fd < 0 || ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0) {
		fail("KVM_GET_REGS: %s", vcpu_fd < 0 ? "no VM" : strerror(errno));
		return;
	}
	fprintf(out, "g 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx\n", r.rip, r.rax, r.rbx, r.rcx, r.rdx, r.rsp,
		r.rflags);
	done();
}

static void cmd_debug(uint64_t on)
{
	struct kvm_guest_debug d;
	memset(&d, 0, sizeof d);
	if (on)
		d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
	int rc = vcpu_fd < 0 ? -1 : ioctl(vcpu_fd, KVM_SET_GUEST_DEBUG, &d);
	fprintf(out, "e %d\n", rc < 0 ? (vcpu_fd < 0 ? EBADF : errno) : 0);
	done();
}

static void cmd_pkru(uint64_t pkru)
{
	if (vcpu_fd < 0) {
		fail("pkru: no VM");
		return;
	}
	/* PKRU's offset in the XSAVE image is CPUID.(EAX=0xd, ECX=9).EBX */
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cp;
	memset(&cp, 0, sizeof cp);
	cp.c.nent = 256;
	uint32_t off = 0;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, &cp) == 0)
		for (uint32_t j = 0; j < cp.c.nent; j++)
			if (cp.e[j].function == 0xd && cp.e[j].index == 9)
				off = cp.e[j].ebx;
	struct kvm_xsave xs;
	if (!off || off + 4 > sizeof xs.region) {
		fail("pkru: no PKRU component in the XSAVE image");
		return;
	}
	if (ioctl(vcpu_fd, KVM_GET_XSAVE, &xs) < 0) {
		fail("KVM_GET_XSAVE: %s", strerror(errno));
		return;
	}
	uint8_t *img = (uint8_t *)xs.region;
	uint64_t bv;
	memcpy(&bv, img + 512, 8);
	bv |= 1ull << 9;
	memcpy(img + 512, &bv, 8);
	uint32_t p = (uint32_t)pkru;
	memcpy(img + off, &p, 4);
	if (ioctl(vcpu_fd, KVM_SET_XSAVE, &xs) < 0) {
		fail("KVM_SET_XSAVE: %s", strerror(errno));
		return;
	}
	done();
}

static const char *exit_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_UNKNOWN: return "UNKNOWN";
	case KVM_EXIT_EXCEPTION: return "EXCEPTION";
	case KVM_EXIT_IO: return "IO";
	case KVM_EXIT_HYPERCALL: return "HYPERCALL";
	case KVM_EXIT_DEBUG: return "DEBUG";
	case KVM_EXIT_HLT: return "HLT";
	case KVM_EXIT_MMIO: return "MMIO";
	case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_INTR: return "INTR";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	default: return "OTHER";
	}
}

static void cmd_run(uint64_t timeout_ms)
{
	if (vcpu_fd < 0) {
		fail("run: no VM");
		return;
	}
	for (int n = 0; n < 16; n++) {
		struct itimerval it = { { 0, 0 }, { (long)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000 } };
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		alarm_hit = 0;
		setitimer(ITIMER_REAL, &it, NULL);
		int rc = ioctl(vcpu_fd, KVM_RUN, 0);
		int e = errno;
		setitimer(ITIMER_REAL, &off, NULL);
		if (rc < 0) {
			fprintf(out, "x %s -1 errno=%d\n", e == EINTR && alarm_hit ? "TIMEOUT" : "ERROR", e);
			break;
		}
		struct kvm_run *r = run_page;
		fprintf(out, "x %s %u", exit_name(r->exit_reason), r->exit_reason);
		int stop = 1;
		if (r->exit_reason == KVM_EXIT_MMIO) {
			uint64_t d = 0;
			memcpy(&d, r->mmio.data, r->mmio.len > 8 ? 8 : r->mmio.len);
			fprintf(out, " phys=0x%llx len=%u is_write=%u data=0x%" PRIx64, r->mmio.phys_addr, r->mmio.len,
				r->mmio.is_write, r->mmio.is_write ? d : 0);
			if (!r->mmio.is_write)
				memset(r->mmio.data, 0, sizeof r->mmio.data);
			stop = 0;
		} else if (r->exit_reason == KVM_EXIT_IO) {
			fprintf(out, " port=0x%x dir=%s size=%u", r->io.port, r->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
				r->io.size);
		} else if (r->exit_reason == KVM_EXIT_DEBUG) {
			fprintf(out, " pc=0x%llx exception=%u", r->debug.arch.pc, r->debug.arch.exception);
		} else if (r->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
			fprintf(out, " suberror=%u", r->internal.suberror);
		} else if (r->exit_reason == KVM_EXIT_FAIL_ENTRY) {
			fprintf(out, " hw_reason=0x%llx", r->fail_entry.hardware_entry_failure_reason);
		}
		fputc('\n', out);
		if (stop)
			break;
	}
	done();
}

static void cmd_translate(uint64_t va)
{
	struct kvm_translation t;
	memset(&t, 0, sizeof t);
	t.linear_address = va;
	int rc = vcpu_fd < 0 ? -1 : ioctl(vcpu_fd, KVM_TRANSLATE, &t);
	fprintf(out, "t %d %d 0x%llx %u %u %u\n", rc, rc < 0 ? errno : 0, t.physical_address, t.valid, t.writeable,
		t.usermode);
	done();
}

static void cmd_cpuidq(uint32_t leaf, uint32_t index)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cp;
	memset(&cp, 0, sizeof cp);
	cp.c.nent = 256;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, &cp) < 0) {
		fail("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		return;
	}
	for (uint32_t j = 0; j < cp.c.nent; j++) {
		struct kvm_cpuid_entry2 *x = &cp.e[j];
		if (x->function == leaf && (x->index == index || !(x->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX))) {
			fprintf(out, "c 0x%x 0x%x 0x%x 0x%x\n", x->eax, x->ebx, x->ecx, x->edx);
			done();
			return;
		}
	}
	fputs("c -\n", out);
	done();
}

static void cmd_mem(uint64_t size)
{
	if (vm_fd >= 0) {
		fail("mem: a VM exists (destroy first)");
		return;
	}
	if (!size || size % 4096 || size > (1ull << 40)) {
		fail("mem: size 0x%" PRIx64 " is not a positive multiple of 4 KiB (at most 1 TiB)", size);
		return;
	}
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		fail("mmap guest RAM: %s", strerror(errno));
		return;
	}
	if (ram)
		munmap(ram, ram_size);
	ram = m;
	ram_size = size;
	n_overrides = 0;
	done();
}

static void command(char *line)
{
	char *argv[16];
	int argc = split(line, argv, 16);
	uint64_t v[4];
	if (!argc)
		return done();
	const char *c = argv[0];
	if (!strcmp(c, "mem")) {
		if (nums(argv, argc, 1, v, 1))
			return fail("mem: expected SIZE");
		cmd_mem(v[0]);
	} else if (!strcmp(c, "w") || !strcmp(c, "r")) {
		int w = c[0] == 'w';
		if (nums(argv, argc, 1, v, w ? 3 : 2))
			return fail("%s: expected GPA SIZE%s", c, w ? " VALUE" : "");
		if (v[1] != 1 && v[1] != 2 && v[1] != 4 && v[1] != 8)
			return fail("%s: size %" PRIu64 " is not 1, 2, 4 or 8", c, v[1]);
		if (!in_ram(v[0], v[1]))
			return fail("%s: 0x%" PRIx64 "+%" PRIu64 " is outside guest RAM", c, v[0], v[1]);
		if (w) {
			memcpy(ram + v[0], &v[2], v[1]); /* x86: little-endian */
		} else {
			uint64_t x = 0;
			memcpy(&x, ram + v[0], v[1]);
			fprintf(out, "v 0x%" PRIx64 "\n", x);
		}
		done();
	} else if (!strcmp(c, "fill")) {
		if (nums(argv, argc, 1, v, 3))
			return fail("fill: expected GPA LEN BYTE");
		if (!in_ram(v[0], v[1]))
			return fail("fill: 0x%" PRIx64 "+0x%" PRIx64 " is outside guest RAM", v[0], v[1]);
		memset(ram + v[0], (int)(v[2] & 0xff), v[1]);
		done();
	} else if (!strcmp(c, "cpuid")) {
		uint64_t o[5];
		if (nums(argv, argc, 1, o, 5) || o[2] > 3)
			return fail("cpuid: expected LEAF INDEX REG(0-3) SET CLR");
		if (n_overrides == 32)
			return fail("cpuid: more than 32 overrides");
		overrides[n_overrides++] = (struct cpuid_override){ (uint32_t)o[0], (uint32_t)o[1], (uint32_t)o[2],
								     (uint32_t)o[3], (uint32_t)o[4] };
		done();
	} else if (!strcmp(c, "cpuidq")) {
		if (nums(argv, argc, 1, v, 2))
			return fail("cpuidq: expected LEAF INDEX");
		cmd_cpuidq((uint32_t)v[0], (uint32_t)v[1]);
	} else if (!strcmp(c, "create")) {
		cmd_create();
	} else if (!strcmp(c, "sregs")) {
		cmd_sregs(argv, argc);
	} else if (!strcmp(c, "sget")) {
		cmd_sget();
	} else if (!strcmp(c, "regs")) {
		cmd_regs(argv, argc);
	} else if (!strcmp(c, "gregs")) {
		cmd_gregs();
	} else if (!strcmp(c, "debug")) {
		if (nums(argv, argc, 1, v, 1))
			return fail("debug: expected 0 or 1");
		cmd_debug(v[0]);
	} else if (!strcmp(c, "pkru")) {
		if (nums(argv, argc, 1, v, 1))
			return fail("pkru: expected VALUE");
		cmd_pkru(v[0]);
	} else if (!strcmp(c, "run")) {
		if (nums(argv, argc, 1, v, 1))
			return fail("run: expected TIMEOUT_MS");
		cmd_run(v[0]);
	} else if (!strcmp(c, "translate")) {
		if (nums(argv, argc, 1, v, 1))
			return fail("translate: expected VA");
		cmd_translate(v[0]);
	} else if (!strcmp(c, "statdesc") || !strcmp(c, "stats")) {
		int d = c[4] == 'd';
		stats_print(&st_vm, "vm", d);
		stats_print(&st_vcpu, "vcpu", d);
		done();
	} else if (!strcmp(c, "destroy")) {
		vm_destroy();
		done();
	} else if (!strcmp(c, "version")) {
		fprintf(out, "version " RUNNER_VERSION " api %d\n", ioctl(kvm_fd, KVM_GET_API_VERSION, 0));
		done();
	} else {
		fail("unknown command '%.40s'", c);
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		puts("kvm-runner " RUNNER_VERSION);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: kvm-runner CMD_FIFO REPLY_FIFO\n");
		return 2;
	}
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		fprintf(stderr, "kvm-runner: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	/* The reply FIFO first: the driver opens its read end before it opens the command FIFO. */
	out = fopen(argv[2], "w");
	in = out ? fopen(argv[1], "r") : NULL;
	if (!in || !out) {
		fprintf(stderr, "kvm-runner: cannot open the FIFOs: %s\n", strerror(errno));
		return 2;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 16);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: KVM_RUN returns EINTR on a timeout */
	sigaction(SIGALRM, &sa, NULL);
	/* The vCPU stays on the CPU it starts on: a migration between steps is host noise. */
	int cpu = sched_getcpu();
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof set, &set);
	}
	char line[1024];
	while (fgets(line, sizeof line, in)) {
		if (!strncmp(line, "quit", 4))
			break;
		command(line);
		fflush(out);
	}
	vm_destroy();
	return 0;
}
