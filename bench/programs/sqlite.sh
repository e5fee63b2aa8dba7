#!/bin/sh
# bench/programs/sqlite.sh — program workload `sqlite`: Debian's sqlite3
# shell running a generated SQL script (tables filled by many INSERT
# statements, indexes built, rows updated and deleted, grouping, joining
# and sorting queries) on a temporary database file that is removed after
# the run.  SQLite gets its page cache, parser and sorter memory from
# malloc.  Protocol: bench/programs/common.sh.
. "$(dirname "$0")/common.sh"

sqlite=$(find_prog sqlite3 sqlite3) || { echo "$sqlite"; exit 77; }

case $mode in
check) exit 0 ;;
prepare)
	rows=$(scaled 100000)
	awk -v rows="$rows" "$AWK_RND"'
	BEGIN {
		seed = 777
		print "PRAGMA journal_mode = MEMORY;"
		print "PRAGMA synchronous = OFF;"
		print "PRAGMA cache_size = -32768;"
		print "CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, city TEXT, since INTEGER);"
		print "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, item TEXT, qty INTEGER, price REAL, note TEXT);"
		ncust = int(rows / 10) + 1
		print "BEGIN;"
		for (i = 1; i <= ncust; i++)
			printf "INSERT INTO customer VALUES (%d, \x27%s %s\x27, \x27%s\x27, %d);\n", i, word(3 + rnd(6)), word(4 + rnd(6)), word(3 + rnd(3)), 1990 + rnd(35)
		print "COMMIT;"
		for (i = 1; i <= rows; i++) {
			if (i % 1000 == 1) print "BEGIN;"
			note = rnd(3) ? "NULL" : "\x27" word(5 + rnd(40)) "\x27"
			printf "INSERT INTO orders VALUES (%d, %d, \x27%s\x27, %d, %d.%02d, %s);\n", i, 1 + rnd(ncust), word(3 + rnd(8)), 1 + rnd(50), rnd(1000), rnd(100), note
			if (i % 1000 == 0 || i == rows) print "COMMIT;"
		}
		print "CREATE INDEX orders_customer ON orders (customer);"
		print "CREATE INDEX orders_item ON orders (item, qty);"
		print "CREATE INDEX customer_city ON customer (city, name);"
		print "UPDATE orders SET price = price * 1.1, note = coalesce(note, \x27\x27) || \x27 repriced\x27 WHERE qty % 7 = 0;"
		print "UPDATE customer SET name = upper(name) WHERE since < 2000;"
		print "DELETE FROM orders WHERE id % 13 = 0;"
		print "SELECT count(*), sum(qty), printf(\x27%.2f\x27, sum(price * qty)) FROM orders;"
		print "SELECT c.city, count(*), sum(o.qty), printf(\x27%.2f\x27, avg(o.price)) FROM orders o JOIN customer c ON c.id = o.customer GROUP BY c.city ORDER BY 2 DESC, 1 LIMIT 40;"
		print "SELECT substr(item, 1, 2) AS p, count(DISTINCT customer), max(length(note)) FROM orders GROUP BY p ORDER BY p;"
		print "SELECT o.id, c.name, o.item, o.qty FROM orders o JOIN customer c ON c.id = o.customer WHERE o.item LIKE \x27ba%\x27 ORDER BY o.qty DESC, o.id LIMIT 50;"
		print "SELECT group_concat(name, \x27,\x27) FROM (SELECT name FROM customer ORDER BY name LIMIT 200);"
		print "WITH t AS (SELECT customer, sum(qty * price) AS total FROM orders GROUP BY customer) SELECT count(*), printf(\x27%.2f\x27, max(total)), printf(\x27%.2f\x27, min(total)) FROM t;"
		print "SELECT item, count(*) FROM orders GROUP BY item HAVING count(*) > 1 ORDER BY count(*) DESC, item LIMIT 30;"
		print "SELECT count(*) FROM (SELECT note FROM orders WHERE note IS NOT NULL ORDER BY note, id);"
	}' >"$data/script.sql"
	;;
run)
	fresh_rundir
	preloaded "$sqlite" -batch -bail "$rundir/test.db" <"$data/script.sql" >"$rundir/out"
	checksum "$rundir/out"
	rm -rf "$rundir"
	;;
esac
