// cxxalloc — C++ allocation through kmm's operators new and delete.
//
// Prints one line per check, "ok NAME" or "not ok NAME (why)", and exits
// with the number of failed checks.  The names are what
// tests/integration/threads-fork.sh expects.
//
// `cxxalloc oom` (tests/integration/oom.sh, under a low `ulimit -v`): new
// of 1 MiB arrays, each written, until std::bad_alloc; nothrow new then
// returns nullptr; once the arrays are deleted, new works again.
#include <dlfcn.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <typeinfo>
#include <vector>

#include "kmm.h"

static int failures;

static void report(const char *name, bool good, const char *why = "")
{
	if (good) {
		std::printf("ok %s\n", name);
	} else {
		std::printf("not ok %s (%s)\n", name, why);
		failures++;
	}
}

// allocations kmm served so far (0 if kmm is not loaded)
static unsigned long long kmm_served()
{
	auto get = reinterpret_cast<int (*)(struct kmm_stats *)>(dlsym(RTLD_DEFAULT, "kmm_stats_get"));
	if (get == nullptr)
		return 0;
	struct kmm_stats st;
	std::memset(&st, 0, sizeof st);
	get(&st);
	unsigned long long n = 0;
	for (int i = 0; i < KMM_SERVED_NR; i++)
		n += st.served[i];
	return n;
}

static int live_objects;

struct Counted {
	int value;
	std::string text;
	explicit Counted(int v = 7) : value(v), text(std::to_string(v) + " a string longer than SSO") { live_objects++; }
	~Counted() { live_objects--; }
};

struct alignas(64) Line64 {
	unsigned char bytes[64];
	Line64() { std::memset(bytes, 0x64, sizeof bytes); }
};

struct alignas(4096) Page {
	unsigned char bytes[4096];
};

// keep the optimizer from pairing and removing new/delete
static void *volatile sink;

static bool aligned(const void *p, std::size_t a)
{
	return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

static int handler_calls;
static void *reserve;

static void release_reserve()
{
	handler_calls++;
	std::free(reserve);
	reserve = nullptr;
	std::set_new_handler(nullptr);     // next failure throws
}

// new until the address space runs out: bad_alloc, never an abort
static int out_of_memory()
{
	std::vector<char *> held;
	held.reserve(100000);
	bool threw = false;
	try {
		for (int i = 0; i < 100000; i++) {
			char *p = new char[1 << 20];
			std::memset(p, i & 0xff, 1 << 20);
			held.push_back(p);
		}
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	std::printf("new char[1 MiB]: %zu arrays, then %s\n", held.size(), threw ? "bad_alloc" : "no failure");
	report("new throws std::bad_alloc when memory runs out", threw && !held.empty(), "no bad_alloc");
	char *q = new (std::nothrow) char[64 << 20];
	report("nothrow new returns nullptr then", q == nullptr, "it returned memory");
	delete[] q;
	bool intact = true;
	for (std::size_t i = 0; i < held.size(); i++)
		intact = intact && held[i][0] == char(i & 0xff) && held[i][(1 << 20) - 1] == char(i & 0xff);
	report("the arrays handed out are intact", intact, "contents changed");
	for (char *p : held)
		delete[] p;
	char *again = new (std::nothrow) char[16 << 20];
	report("new works again once the arrays are deleted", again != nullptr, "still nullptr");
	if (again)
		std::memset(again, 1, 16 << 20);
	delete[] again;
	return failures;
}

int main(int argc, char **argv)
{
	if (argc > 1 && std::strcmp(argv[1], "oom") == 0)
		return out_of_memory();
	bool have_kmm = dlsym(RTLD_DEFAULT, "kmm_version") != nullptr;
	report("kmm loaded", have_kmm, "kmm_version not found");

	// plain new/delete, counted by kmm
	unsigned long long before = kmm_served();
	for (int i = 0; i < 1000; i++) {
		int *p = new int(i);
		sink = p;
		bool good = *p == i;
		delete p;
		if (!good)
			report("new/delete", false, "value lost");
	}
	unsigned long long after = kmm_served();
	report("new/delete served by kmm", after >= before + 1000, "kmm's counters did not move");

	// objects with constructors and destructors
	{
		Counted *c = new Counted(42);
		sink = c;
		bool good = c->value == 42 && live_objects == 1;
		delete c;
		report("new/delete of an object", good && live_objects == 0, "ctor/dtor mismatch");
	}

	// arrays: the cookie with the element count must survive
	{
		Counted *a = new Counted[1000];
		sink = a;
		bool good = live_objects == 1000;
		for (int i = 0; i < 1000; i++)
			good = good && a[i].value == 7 && a[i].text == "7 a string longer than SSO";
		delete[] a;
		report("new[]/delete[]", good && live_objects == 0, "array lost elements");
		char *s = new char[100000];
		std::memset(s, 1, 100000);
		sink = s;
		delete[] s;
		char *big = new char[1 << 20];      // a mapped chunk
		std::memset(big, 2, 1 << 20);
		sink = big;
		delete[] big;
		report("new[] of 100 KB and 1 MB", true);
	}

	// aligned new (C++17): alignas(64) and alignas(4096)
	{
		before = kmm_served();
		bool good = true;
		std::vector<Line64 *> lines;
		for (int i = 0; i < 100; i++) {
			Line64 *l = new Line64;
			good = good && aligned(l, 64) && l->bytes[63] == 0x64;
			lines.push_back(l);
		}
		for (Line64 *l : lines)
			delete l;
		Line64 *arr = new Line64[17];
		good = good && aligned(arr, 64) && aligned(&arr[16], 64);
		delete[] arr;
		Page *pg = new Page;
		good = good && aligned(pg, 4096);
		std::memset(pg->bytes, 3, sizeof pg->bytes);
		delete pg;
		report("aligned new (alignas(64), alignas(4096))", good, "misaligned block");
		report("aligned new served by kmm", kmm_served() >= before + 102, "kmm's counters did not move");
	}

	// a huge request throws std::bad_alloc
	{
		volatile std::size_t huge = SIZE_MAX / 2;
		bool caught = false;
		try {
			sink = ::operator new(huge);
		} catch (const std::bad_alloc &e) {
			caught = typeid(e) == typeid(std::bad_alloc) && std::strcmp(e.what(), "std::bad_alloc") == 0;
		} catch (...) {
		}
		report("operator new(SIZE_MAX/2) throws std::bad_alloc", caught, "no std::bad_alloc");
		caught = false;
		try {
			char *p = new char[huge];
			sink = p;
		} catch (const std::bad_alloc &e) {
			caught = std::strlen(e.what()) > 0;
		}
		report("new char[SIZE_MAX/2] throws std::bad_alloc", caught, "no exception");
		caught = false;
		try {
			sink = ::operator new(huge, std::align_val_t(64));
		} catch (const std::bad_alloc &) {
			caught = true;
		}
		report("aligned operator new(SIZE_MAX/2) throws std::bad_alloc", caught, "no exception");
	}

	// nothrow forms return nullptr
	{
		volatile std::size_t huge = SIZE_MAX / 2;
		char *p = new (std::nothrow) char[huge];
		report("new (std::nothrow) char[SIZE_MAX/2] is nullptr", p == nullptr, "not nullptr");
		void *q = ::operator new(huge, std::nothrow);
		report("operator new(SIZE_MAX/2, nothrow) is nullptr", q == nullptr, "not nullptr");
		void *r = ::operator new(huge, std::align_val_t(64), std::nothrow);
		report("aligned nothrow operator new(SIZE_MAX/2) is nullptr", r == nullptr, "not nullptr");
		Counted *c = new (std::nothrow) Counted(5);
		report("new (std::nothrow) of a small object works", c != nullptr && c->value == 5, "failed");
		delete c;
	}

	// the new-handler is called before giving up
	{
		volatile std::size_t huge = SIZE_MAX / 2;
		reserve = std::malloc(1000);
		std::set_new_handler(release_reserve);
		bool caught = false;
		try {
			sink = ::operator new(huge);
		} catch (const std::bad_alloc &) {
			caught = true;
		}
		report("new-handler called once, then std::bad_alloc", caught && handler_calls == 1,
		       "handler not called once");
	}

	// the standard library on top
	{
		std::map<std::string, std::vector<std::unique_ptr<Counted>>> m;
		for (int i = 0; i < 20000; i++)
			m["key" + std::to_string(i % 613)].push_back(std::make_unique<Counted>(i));
		long sum = 0;
		for (auto &kv : m)
			for (auto &c : kv.second)
				sum += c->value;
		bool good = m.size() == 613 && sum == 20000L * 19999 / 2 && live_objects == 20000;
		m.clear();
		std::shared_ptr<Line64> sp = std::make_shared<Line64>();
		good = good && aligned(sp.get(), 64);
		report("containers, unique_ptr, shared_ptr", good && live_objects == 0, "wrong contents");
	}

	std::printf("failures %d\n", failures);
	return failures;
}
