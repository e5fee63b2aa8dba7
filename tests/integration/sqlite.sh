#!/bin/sh
# sqlite.sh — sqlite3 builds and queries a 100k-row table under kmm with the
# same results as with glibc's malloc.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 7

if ! have sqlite3; then
	for t in 1 2 3 4 5 6 7; do skip "sqlite3 check $t" "sqlite3 not installed"; done
	exit 0
fi
cd "$KMM_TMP" || exit 1

cat >load.sql <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INT, name TEXT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, x % 97, printf('name-%04d-%s', (x * 7919) % 5003, substr('abcdefghij', 1 + x % 4)),
	(x * 31 % 1000) / 7.0 FROM c;
CREATE INDEX t_name ON t(name);
CREATE TABLE u AS SELECT grp, group_concat(id, ',') AS ids FROM t WHERE id % 13 = 0 GROUP BY grp;
SQL

cat >query.sql <<'SQL'
SELECT count(*), sum(id), min(name), max(name), printf('%.4f', avg(val)) FROM t;
SELECT grp, count(*), sum(id), printf('%.3f', sum(val)), min(name), max(length(name)) FROM t
	GROUP BY grp ORDER BY grp LIMIT 12;
SELECT name, count(*) AS n FROM t GROUP BY name ORDER BY n DESC, name LIMIT 10;
SELECT id, name, val FROM t ORDER BY substr(name, 12) DESC, val, id LIMIT 15;
SELECT grp, length(ids), substr(ids, 1, 40) FROM u ORDER BY length(ids) DESC, grp LIMIT 8;
SELECT a.grp, count(*) FROM t a JOIN t b ON a.id = b.id + 97 WHERE a.id % 1000 = 3 GROUP BY a.grp ORDER BY 1 LIMIT 5;
SELECT id, sum(val) OVER (ORDER BY id ROWS BETWEEN 50 PRECEDING AND CURRENT ROW) FROM t WHERE id % 5000 = 0;
SELECT count(DISTINCT name), sum(length(name)), hex(substr(group_concat(name), 1, 24)) FROM t;
PRAGMA integrity_check;
SQL

# in-memory database: load and query in one process
cat load.sql query.sql >all.sql
plain_run sqlite3 :memory: <all.sql >mem.plain 2>&1
echo "status $?" >>mem.plain
kmm_run "$KMM_TMP/mem.stats" sqlite3 :memory: <all.sql >mem.kmm 2>&1
echo "status $?" >>mem.kmm
ok "sqlite3 :memory: plain run sane" grep -qx '100000|5000050000|name-0000-abcdefghij|name-5002-defghij|71.3571' mem.plain
ok "sqlite3 :memory: 100k rows, identical results under kmm" same_output mem.plain mem.kmm
used_kmm "sqlite3: kmm served its mallocs" "$KMM_TMP/mem.stats" sqlite3

# on-disk database written under kmm, read back plainly (and vice versa)
plain_run sqlite3 plain.db <load.sql >load.plain 2>&1
kmm_run "$KMM_TMP/disk.stats" sqlite3 kmm.db <load.sql >load.kmm 2>&1
ok "sqlite3 file database created under kmm: no errors, same bytes as the plain one" \
	sh -c "test ! -s load.kmm && test -s kmm.db && cmp plain.db kmm.db"
plain_run sqlite3 kmm.db <query.sql >disk.kmm-written 2>&1
plain_run sqlite3 plain.db <query.sql >disk.plain 2>&1
ok "sqlite3: database written under kmm reads back identically" same_output disk.plain disk.kmm-written
kmm_run "$KMM_TMP/disk.stats" sqlite3 plain.db <query.sql >disk.kmm-read 2>&1
ok "sqlite3: queries under kmm on a plain database identical" same_output disk.plain disk.kmm-read
plain_run sqlite3 plain.db .dump >dump.plain 2>&1
kmm_run "$KMM_TMP/disk.stats" sqlite3 kmm.db .dump >dump.kmm 2>&1
ok "sqlite3 .dump under kmm identical" same_output dump.plain dump.kmm
