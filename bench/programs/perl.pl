# bench/programs/perl.pl — the `perl` program workload (bench/programs/perl.sh):
# hash and string churn.
#
#     perl perl.pl SCALE
#
# Each round fills hashes with generated words and records (hashes of
# arrays and strings), counts, joins, splits, substitutes and sorts them,
# keeps a slowly replaced cache alive across rounds, and drops the rest.
# Everything printed depends only on SCALE (keys are always sorted before
# they are walked).
use strict;
use warnings;

my $scale = @ARGV ? $ARGV[0] : 1;
my $rounds = int(10 * $scale + 0.5);
$rounds = 1 if $rounds < 1;

my $x = 54321;
sub below { $x = ($x * 48271) % 2147483647; return int($x * $_[0] / 2147483647); }

my @syl = qw(ka lo mi ne su ta ri po ve zu ba ek);
sub name { my $n = shift; my $s = ''; $s .= $syl[below(scalar @syl)] for 1 .. $n; return $s; }

my $MOD = 1000000007;
my $h = 0;
sub fold { for my $c (unpack('C*', $_[0])) { $h = ($h * 131 + $c) % $MOD; } }

my @cache;
for my $r (1 .. $rounds) {
	my (%byname, %count, @recs);
	for my $i (1 .. 6000) {
		my $k = name(2 + below(4));
		my $rec = {
			id => $r * 6000 + $i,
			name => $k,
			tags => [ map { name(1 + below(2)) } 1 .. below(6) ],
			score => below(100000) / 7,
		};
		$rec->{note} = "$k-$i " x (1 + below(20)) if below(4) == 0;
		push @recs, $rec;
		push @{ $byname{substr($k, 0, 2)} }, $rec;
		$count{$_}++ for @{ $rec->{tags} };
	}
	for my $g (sort keys %byname) {
		my @s = sort { $a->{score} <=> $b->{score} || $a->{id} <=> $b->{id} } @{ $byname{$g} };
		fold(sprintf("%s %d %.3f", $g, scalar @s, $s[0]{score}));
	}
	my $text = join(' ', map { $_->{name} . '=' . join(',', @{ $_->{tags} }) } @recs);
	my @pairs = map { [ split /=/, $_, 2 ] } split / /, $text;
	my $rebuilt = join(';', map { my $b = $_->[1]; $b =~ s/,/|/g; uc($_->[0]) . ':' . $b } @pairs);
	fold(substr($rebuilt, -200));
	$h = ($h * 31 + length($rebuilt)) % $MOD;
	my $words = 0;
	for my $rec (@recs) {
		next unless defined $rec->{note};
		my %w;
		$w{$_}++ for split / /, $rec->{note};
		$words += scalar keys %w;
	}
	my $sum = 0;
	$sum += $count{$_} * length($_) for sort keys %count;
	$h = ($h * 31 + $sum + $words) % $MOD;
	for (my $i = 0; $i < @recs; $i += 5) {
		my $slot = below(4000);
		if ($slot < @cache) { $cache[$slot] = $recs[$i]; } else { push @cache, $recs[$i]; }
	}
	my $t = 0;
	$t += scalar @{ $_->{tags} } for @cache;
	$h = ($h * 31 + $t) % $MOD;
}
printf "rounds %d cache %d hash %d\n", $rounds, scalar @cache, $h;
