#!/bin/sh
# compilers.sh — gcc and g++ under kmm produce the same objects and programs
# as under glibc's malloc.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 8

cd "$KMM_TMP" || exit 1

# --- a C program: a hash table, qsort, recursion, a little interpreter, and
# many generated functions to give cc1 some work.
cat >prog.c <<'CEOF'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry { char *key; long count; struct entry *next; };
struct table { struct entry **slots; size_t nslots, n; };

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static void grow(struct table *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 16;
	struct entry **s = calloc(n, sizeof *s);
	for (size_t i = 0; i < t->nslots; i++)
		for (struct entry *e = t->slots[i], *next; e; e = next) {
			next = e->next;
			size_t j = hash(e->key) & (n - 1);
			e->next = s[j];
			s[j] = e;
		}
	free(t->slots);
	t->slots = s;
	t->nslots = n;
}

static void add(struct table *t, const char *key)
{
	if (t->n >= t->nslots * 3 / 4)
		grow(t);
	size_t i = hash(key) & (t->nslots - 1);
	for (struct entry *e = t->slots[i]; e; e = e->next)
		if (strcmp(e->key, key) == 0) {
			e->count++;
			return;
		}
	struct entry *e = malloc(sizeof *e);
	e->key = strdup(key);
	e->count = 1;
	e->next = t->slots[i];
	t->slots[i] = e;
	t->n++;
}

static int by_count(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

enum op { PUSH, ADD, MUL, SUB, DUP, OVER, SWAP, JNZ, DEC, HALT };
/* a tiny stack machine */
struct insn { enum op op; long arg; };

static long run(const struct insn *code)
{
	long stack[64];
	int sp = 0;
	for (int pc = 0;; pc++) {
		const struct insn *in = &code[pc];
		switch (in->op) {
		case PUSH: stack[sp++] = in->arg; break;
		case ADD: sp--; stack[sp - 1] += stack[sp]; break;
		case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
		case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
		case DUP: stack[sp] = stack[sp - 1]; sp++; break;
		case OVER: stack[sp] = stack[sp - 2]; sp++; break;
		case SWAP: { long t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; break; }
		case DEC: stack[sp - 1]--; break;
		case JNZ: if (stack[--sp]) pc = (int)in->arg - 1; break;
		case HALT: return stack[sp - 1];
		}
	}
}

static long ackermann(long m, long n)
{
	if (m == 0) return n + 1;
	if (n == 0) return ackermann(m - 1, 1);
	return ackermann(m - 1, ackermann(m, n - 1));
}

#define GEN(n) static unsigned long f##n(unsigned long x) { \
	for (int i = 0; i < (n % 7) + 3; i++) x = x * (2 * n + 1) + (x >> (n % 13 + 1)) + i; \
	return x ^ (x >> 17); }
#define GEN10(n) GEN(n##0) GEN(n##1) GEN(n##2) GEN(n##3) GEN(n##4) \
	GEN(n##5) GEN(n##6) GEN(n##7) GEN(n##8) GEN(n##9)
GEN10(1) GEN10(2) GEN10(3) GEN10(4) GEN10(5) GEN10(6) GEN10(7) GEN10(8) GEN10(9)
#define CALL10(n) x = f##n##0(x); x = f##n##1(x); x = f##n##2(x); x = f##n##3(x); \
	x = f##n##4(x); x = f##n##5(x); x = f##n##6(x); x = f##n##7(x); x = f##n##8(x); x = f##n##9(x);

int main(void)
{
	struct table t = { 0 };
	char word[32];
	unsigned long seed = 42;
	for (int i = 0; i < 200000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		snprintf(word, sizeof word, "w%lu", (seed >> 33) % 5000);
		add(&t, word);
	}
	struct entry **all = malloc(t.n * sizeof *all);
	size_t k = 0;
	for (size_t i = 0; i < t.nslots; i++)
		for (struct entry *e = t.slots[i]; e; e = e->next)
			all[k++] = e;
	qsort(all, k, sizeof *all, by_count);
	printf("distinct %zu\n", k);
	for (size_t i = 0; i < 5; i++)
		printf("%s %ld\n", all[i]->key, all[i]->count);
	/* 10! by a loop in the stack machine; the stack holds n acc */
	struct insn code[] = {
		{ PUSH, 10 }, { PUSH, 1 },
		{ OVER, 0 }, { JNZ, 5 }, { HALT, 0 },               /* 2: while (n) */
		{ OVER, 0 }, { MUL, 0 }, { SWAP, 0 }, { DEC, 0 },   /* 5: acc *= n--  */
		{ SWAP, 0 }, { PUSH, 1 }, { JNZ, 2 },
	};
	printf("10! %ld\n", run(code));
	printf("ackermann %ld\n", ackermann(2, 300));
	unsigned long x = 7;
	CALL10(1) CALL10(2) CALL10(3) CALL10(4) CALL10(5) CALL10(6) CALL10(7) CALL10(8) CALL10(9)
	printf("chain %lu\n", x);
	for (size_t i = 0; i < k; i++) {
		free(all[i]->key);
		free(all[i]);
	}
	free(all);
	free(t.slots);
	return 0;
}
CEOF

# --- a C++ program: templates and the standard library
cat >prog.cc <<'CXXEOF'
#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

template <typename T> struct Tree {
	struct Node { T value; std::unique_ptr<Node> left, right; };
	std::unique_ptr<Node> root;
	std::size_t size = 0;
	void insert(const T &v) {
		std::unique_ptr<Node> *at = &root;
		while (*at) at = v < (*at)->value ? &(*at)->left : &(*at)->right;
		*at = std::make_unique<Node>(Node{v, nullptr, nullptr});
		size++;
	}
	template <typename F> void walk(const Node *n, F &&f) const {
		if (!n) return;
		walk(n->left.get(), f); f(n->value); walk(n->right.get(), f);
	}
	template <typename F> void walk(F &&f) const { walk(root.get(), f); }
};

struct Shape { virtual ~Shape() = default; virtual double area() const = 0; virtual std::string name() const = 0; };
struct Rect : Shape { double w, h; Rect(double a, double b) : w(a), h(b) {}
	double area() const override { return w * h; } std::string name() const override { return "rect"; } };
struct Circle : Shape { double r; explicit Circle(double a) : r(a) {}
	double area() const override { return 3.0 * r * r; } std::string name() const override { return "circle"; } };

int main() {
	std::map<std::string, std::vector<int>> groups;
	std::unordered_map<int, std::string> names;
	for (int i = 0; i < 20000; i++) {
		groups[std::to_string(i * 7919 % 211)].push_back(i);
		names[i % 3001] += static_cast<char>('a' + i % 26);
	}
	std::size_t total = 0;
	for (auto &g : groups) total += g.second.size() * g.first.size();
	std::cout << "groups " << groups.size() << " " << total << "\n";
	std::size_t chars = 0;
	for (auto &n : names) chars += n.second.size();
	std::cout << "names " << names.size() << " " << chars << "\n";

	Tree<std::string> tree;
	for (int i = 0; i < 5000; i++) tree.insert("k" + std::to_string(i * 2654435761u % 10007));
	std::ostringstream os;
	int shown = 0;
	tree.walk([&](const std::string &s) { if (shown++ < 5) os << s << ","; });
	std::cout << "tree " << tree.size << " " << os.str() << "\n";

	std::vector<std::unique_ptr<Shape>> shapes;
	for (int i = 0; i < 1000; i++) {
		if (i % 3) shapes.push_back(std::make_unique<Rect>(i % 7, i % 11));
		else shapes.push_back(std::make_unique<Circle>(i % 5));
	}
	double area = 0;
	std::set<std::string> kinds;
	for (auto &s : shapes) { area += s->area(); kinds.insert(s->name()); }
	std::cout << "shapes " << area << " " << kinds.size() << "\n";

	std::vector<std::shared_ptr<std::string>> shared;
	for (int i = 0; i < 3000; i++) shared.push_back(std::make_shared<std::string>(i % 50, 'x'));
	std::sort(shared.begin(), shared.end(), [](auto &a, auto &b) { return *a < *b; });
	std::cout << "shared " << std::accumulate(shared.begin(), shared.end(), std::size_t{0},
		[](std::size_t s, auto &p) { return s + p->size(); }) << "\n";
	std::function<long(long)> fib = [&](long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); };
	std::cout << "fib " << fib(20) << "\n";
	return 0;
}
CXXEOF

# compile_both NAME COMPILER ARGS...: NAME.plain.o / NAME.kmm.o
compile_both() {
	_n=$1 _cc=$2; shift 2
	plain_run "$_cc" "$@" -c -o "$_n.plain.o" >"$_n.plain.log" 2>&1
	_ps=$?
	kmm_run "$KMM_TMP/$_n.stats" "$_cc" "$@" -c -o "$_n.kmm.o" >"$_n.kmm.log" 2>&1
	_ks=$?
	[ $_ps -eq 0 ] || { diag "plain $_cc failed:"; cat_diag "$_n.plain.log"; }
	[ $_ks -eq 0 ] || { diag "$_cc under kmm failed ($_ks):"; cat_diag "$_n.kmm.log"; }
}

# link_and_run NAME DRIVER: links both objects (the kmm one under kmm) and
# runs both programs plainly
link_and_run() {
	plain_run "$2" -o "$1.plain" "$1.plain.o" >/dev/null 2>&1 && ./"$1.plain" >"$1.plain.out" 2>&1
	echo "status $?" >>"$1.plain.out"
	kmm_run "$KMM_TMP/$1.link.stats" "$2" -o "$1.kmm" "$1.kmm.o" >/dev/null 2>&1 && ./"$1.kmm" >"$1.kmm.out" 2>&1
	echo "status $?" >>"$1.kmm.out"
}

if have gcc; then
	compile_both c gcc -O2 -g -Wall prog.c
	ok "gcc -O2 -g: object file identical under kmm" same_output c.plain.o c.kmm.o
	used_kmm "gcc: kmm served cc1's mallocs" "$KMM_TMP/c.stats" cc1
	link_and_run c gcc
	ok "gcc: the program links and runs (plain)" grep -qx '10! 3628800' c.plain.out
	ok "gcc: program compiled and linked under kmm gives the same output" same_output c.plain.out c.kmm.out
else
	for t in 1 2 3 4; do skip "gcc check $t" "gcc not installed"; done
fi

if have g++; then
	compile_both cxx g++ -std=c++17 -O1 prog.cc
	ok "g++ -O1: object file identical under kmm" same_output cxx.plain.o cxx.kmm.o
	used_kmm "g++: kmm served cc1plus's mallocs" "$KMM_TMP/cxx.stats" cc1plus
	link_and_run cxx g++
	ok "g++: the program links and runs (plain)" grep -qx 'fib 6765' cxx.plain.out
	ok "g++: program compiled and linked under kmm gives the same output" same_output cxx.plain.out cxx.kmm.out
else
	for t in 1 2 3 4; do skip "g++ check $t" "g++ not installed"; done
fi
