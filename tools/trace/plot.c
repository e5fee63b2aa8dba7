/*
 * plot.c — kmm-trace plot: the series sampled during the analysis (per
 * time bucket, its extremes) and the SVG drawn from them.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <errno.h>

#define NSERIES 6
#define NBUCKETS 500

struct bucket { int64_t min, max, last; uint32_t imin, imax; int has; };

struct plotdata {
	struct bucket b[NSERIES][NBUCKETS];
	uint64_t tmin, tmax; /* the x axis: the first event to the last */
	uint32_t counter;
};

void kt_plot_sample(struct stats *s, const struct ev *e)
{
	struct plotdata *P = s->plot;
	int64_t committed = 0;
	for (int k = 0; k < 8; k++)
		committed += s->reg_bytes[k];
	int64_t v[NSERIES] = {
		(int64_t)s->live,
		s->brk_seen ? (int64_t)(s->brk_cur - s->brk_first) : 0,
		s->vm_live,
		s->reg_bytes[KMM_REGION_ARENA_HEAP],
		committed,
		(int64_t)s->rss,   /* the last rss sample (0 before the first) */
	};
	/* a forked child frees blocks and areas its parent made: what the
	 * log cannot account for would go below zero */
	for (int i = 0; i < NSERIES; i++)
		if (v[i] < 0)
			v[i] = 0;
	double f = (double)(e->time - P->tmin) / ((double)(P->tmax - P->tmin) + 1.0) * NBUCKETS;
	size_t bk = f < 0 ? 0 : f >= NBUCKETS ? NBUCKETS - 1 : (size_t)f;
	uint32_t c = ++P->counter;
	for (int i = 0; i < NSERIES; i++) {
		struct bucket *B = &P->b[i][bk];
		if (!B->has) {
			B->has = 1;
			B->min = B->max = v[i];
			B->imin = B->imax = c;
		} else {
			if (v[i] < B->min) {
				B->min = v[i];
				B->imin = c;
			}
			if (v[i] > B->max) {
				B->max = v[i];
				B->imax = c;
			}
		}
		B->last = v[i];
	}
}

static void xml_escape(FILE *o, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", o); break;
		case '<': fputs("&lt;", o); break;
		case '>': fputs("&gt;", o); break;
		case '"': fputs("&quot;", o); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, o);
		}
	}
}

/* a round step near max/n: 1, 2 or 5 times a power of ten */
static double nice_step(double max, int n)
{
	double raw = max / n, mag = 1;
	if (raw <= 0)
		return 1;
	while (mag * 10 <= raw)
		mag *= 10;
	while (mag > raw)
		mag /= 10;
	double f = raw / mag;
	return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* the decimals a tick step needs (0.25 -> 2) */
static int step_decimals(double step)
{
	int d = 0;
	for (double m = 1; d < 6; d++, m *= 10) {
		double x = step * m;
		if (x - (double)(int64_t)(x + 0.5) < 1e-6 && (double)(int64_t)(x + 0.5) - x < 1e-6)
			break;
	}
	return d;
}

static void fmt_num(char *buf, size_t n, double v, int decimals, const char *unit)
{
	snprintf(buf, n, "%.*f %s", decimals, v, unit);
}

struct axis_x {
	double x0, x1, right, step, div;
	const char *unit;
};

static double text_width(const char *s) { return 7.3 * (double)strlen(s); }

/* one panel: the series in `mask`, its own y axis, a legend row above it */
static size_t plot_panel(FILE *o, const struct plotdata *P, unsigned mask, const int64_t *vpeak,
			 const struct axis_x *ax, double Y0, double Y1, int nyticks, int xlabels, const struct stats *s)
{
	static const char *names[NSERIES] = {"live heap", "break size", "vmalloc areas", "arena heaps",
					     "committed (kmm's regions; not reservations)",
					     "resident (RSS samples)"};
	static const char *colors[NSERIES] = {"#1f6fd1", "#e07b00", "#2a9d3a", "#8e44ad", "#c62828", "#555555"};
	static const char *bunit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	const double X0 = ax->x0, X1 = ax->x1;
	int64_t vmax = 1;
	for (int i = 0; i < NSERIES; i++)
		if ((mask >> i & 1) && vpeak[i] > vmax)
			vmax = vpeak[i];
	if (vmax < 1024)
		vmax = 1024; /* an axis of at least 1 KiB */
	int ui = 0;
	double ud = 1;
	while (ui < 4 && (double)vmax / ud >= 1024) {
		ud *= 1024;
		ui++;
	}
	double ymaxu = (double)vmax / ud, ystep = nice_step(ymaxu, nyticks);
	double ytop = ystep * (double)(int64_t)(ymaxu / ystep + 0.999999);
	if (ytop < ymaxu)
		ytop += ystep;
	if (ytop <= 0)
		ytop = ystep;
#define XP(tu) (X0 + (X1 - X0) * ((tu) / ax->right))
#define YP(v) (Y1 - (Y1 - Y0) * ((double)(v) / ud / ytop))
	/* legend: rows above the panel, as many as its entries need */
	char lt[NSERIES][200];
	double lxs[NSERIES];
	int lrow[NSERIES], nrows = 1;
	double lx = X0;
	for (int i = 0; i < NSERIES; i++) {
		if (!(mask >> i & 1))
			continue;
		char b1[64];
		if (i == 0 && s->peak) {
			char b2[64];
			fmt_num(b2, sizeof b2, (double)(s->peak_time - P->tmin) / ax->div, step_decimals(ax->step) + 1, ax->unit);
			snprintf(lt[i], sizeof lt[i], "%s, peak %s at %s (the dot)", names[i], kt_hbytes((double)s->peak, b1, sizeof b1), b2);
		} else
			snprintf(lt[i], sizeof lt[i], "%s, peak %s", names[i], kt_hbytes((double)vpeak[i], b1, sizeof b1));
		double w = 28 + text_width(lt[i]);
		if (lx > X0 && lx + w > X1) {
			nrows++;
			lx = X0;
		}
		lxs[i] = lx;
		lrow[i] = nrows - 1;
		lx += w + 28;
	}
	for (int i = 0; i < NSERIES; i++) {
		if (!(mask >> i & 1))
			continue;
		double y = Y0 - 10 - 18.0 * (nrows - 1 - lrow[i]);
		fprintf(o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"22\" height=\"4\" fill=\"%s\"/>\n", lxs[i], y - 6, colors[i]);
		fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#222\">", lxs[i] + 28, y);
		xml_escape(o, lt[i]);
		fprintf(o, "</text>\n");
	}
	/* grid, ticks */
	fprintf(o, "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
	int nyt = (int)(ytop / ystep + 0.5), nxt = (int)(ax->right / ax->step + 1e-6);
	int ydec = step_decimals(ystep), xdec = step_decimals(ax->step);
	for (int k = 1; k <= nyt; k++)
		fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", X0, YP(k * ystep * ud), X1,
			YP(k * ystep * ud));
	for (int k = 1; k <= nxt; k++)
		if (k * ax->step < ax->right * 0.9999)
			fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", XP(k * ax->step), Y0,
				XP(k * ax->step), Y1);
	fprintf(o, "</g>\n<g text-anchor=\"end\" fill=\"#333\">\n");
	for (int k = 0; k <= nyt; k++) {
		char b[64];
		fmt_num(b, sizeof b, k * ystep, ydec, bunit[ui]);
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", X0 - 8, YP(k * ystep * ud) + 4, b);
	}
	fprintf(o, "</g>\n");
	if (xlabels) {
		fprintf(o, "<g text-anchor=\"middle\" fill=\"#333\">\n");
		for (int k = 0; k <= nxt; k++) {
			char b[64];
			fmt_num(b, sizeof b, k * ax->step, xdec, ax->unit);
			fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", XP(k * ax->step), Y1 + 20, b);
		}
		fprintf(o, "</g>\n");
	}
	if (vmax <= 1024 && !(mask & 1) && !vpeak[4])
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">none in this log</text>\n",
			(X0 + X1) / 2, (Y0 + Y1) / 2 + 4);
	/* the lines: step functions; per bucket its extremes, in their order */
	size_t points = 0;
	for (int i = NSERIES - 1; i >= 0; i--) {
		if (!(mask >> i & 1))
			continue;
		fprintf(o, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" stroke-linejoin=\"round\" d=\"M%.1f %.1f",
			colors[i], i == 0 ? "2.2" : "1.6", X0, Y1);
		double lasty = Y1;
		points++;
		for (int k = 0; k < NBUCKETS; k++) {
			const struct bucket *B = &P->b[i][k];
			if (!B->has)
				continue;
			double x = X0 + (X1 - X0) * ((double)k * (double)(P->tmax - P->tmin + 1) / NBUCKETS / ax->div) / ax->right;
			double ys[3];
			int ny = 0;
			if (B->imin < B->imax) {
				ys[ny++] = YP(B->min);
				ys[ny++] = YP(B->max);
			} else if (B->imax < B->imin) {
				ys[ny++] = YP(B->max);
				ys[ny++] = YP(B->min);
			} else
				ys[ny++] = YP(B->min);
			ys[ny++] = YP(B->last);
			int moved = 0;
			for (int q = 0; q < ny; q++) {
				if ((int64_t)(ys[q] * 10 + 0.5) == (int64_t)(lasty * 10 + 0.5))
					continue;
				if (!moved) {
					fprintf(o, " H%.1f", x);
					points++;
					moved = 1;
				}
				fprintf(o, " V%.1f", ys[q]);
				points++;
				lasty = ys[q];
			}
		}
		fprintf(o, " H%.1f\"/>\n", X1);
		points++;
	}
	if ((mask & 1) && s->peak)
		fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"white\" stroke-width=\"1.5\"/>\n",
			XP((double)(s->peak_time - P->tmin) / ax->div), YP(s->peak), colors[0]);
	fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", X0, Y0,
		X1 - X0, Y1 - Y0);
#undef XP
#undef YP
	return points;
}

int kt_cmd_plot(struct log *L, const char *out)
{
	struct stats *s = kt_xcalloc(1, sizeof *s);
	s->plot = kt_xcalloc(1, sizeof *s->plot);
	s->plot->tmin = L->tmin;
	s->plot->tmax = L->tmax > L->tmin ? L->tmax : L->tmin;
	kt_analyze(L, s);
	const struct plotdata *P = s->plot;

	char *outname = out ? kt_xstrdup(out) : kt_xasprintf("%s.svg", L->path);
	FILE *o = fopen(outname, "w");
	if (!o)
		kt_fatal("%s: %s", outname, strerror(errno));

	int64_t vpeak[NSERIES] = {0};
	for (int i = 0; i < NSERIES; i++)
		for (int k = 0; k < NBUCKETS; k++)
			if (P->b[i][k].has && P->b[i][k].max > vpeak[i])
				vpeak[i] = P->b[i][k].max;

	const double W = 1000, H = 660;
	/* x axis: time in s, ms or us */
	struct axis_x ax = {.x0 = 96, .x1 = 970, .unit = "s", .div = 1e9};
	double tmax = (double)(P->tmax > P->tmin ? P->tmax - P->tmin : 1);
	if (tmax < 1e6) {
		ax.unit = "\xc2\xb5s";
		ax.div = 1e3;
	} else if (tmax < 1e9) {
		ax.unit = "ms";
		ax.div = 1e6;
	}
	ax.right = tmax / ax.div;
	ax.step = nice_step(ax.right, 8);

	fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		   "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">\n",
		W, H, W, H);
	fprintf(o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(o, "<text x=\"%.0f\" y=\"28\" font-size=\"18\" font-weight=\"bold\" text-anchor=\"middle\">kmm trace: ", W / 2);
	xml_escape(o, kt_prog_name(L));
	fprintf(o, " (pid %" PRIu32 ")</text>\n", L->pid);
	{
		char b1[64], b2[64];
		fmt_num(b1, sizeof b1, ax.right, step_decimals(ax.step) + 1, ax.unit);
		fprintf(o, "<text x=\"%.0f\" y=\"48\" text-anchor=\"middle\" fill=\"#555\">%" PRIu64
			   " events, %zu thread%s, %s; peak live heap %s",
			W / 2, s->nevents, L->ntids, L->ntids == 1 ? "" : "s", b1, kt_hbytes((double)s->peak, b2, sizeof b2));
		if (kt_log_cut(L))
			fprintf(o, "; the log was cut short");
		fprintf(o, "</text>\n");
	}
	const double AY0 = 110, AY1 = 420, BY0 = 470, BY1 = 590;
	size_t points = plot_panel(o, P, 1 | 2 | 4 | 8, vpeak, &ax, AY0, AY1, 6, 0, s);
	/* the resident memory where the log sampled it (rss events) */
	points += plot_panel(o, P, 16 | (s->rss_samples ? 32 : 0), vpeak, &ax, BY0, BY1, 3, 1, s);
	{
		char b1[64];
		fmt_num(b1, sizeof b1, (double)P->tmin / ax.div, step_decimals(ax.step) + 1, ax.unit);
		fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#333\">time since the first event "
			   "(which came %s after the trace started)</text>\n",
			(ax.x0 + ax.x1) / 2, BY1 + 44, b1);
	}
	fprintf(o, "<text transform=\"translate(20 %.0f) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">heap</text>\n",
		(AY0 + AY1) / 2);
	fprintf(o, "<text transform=\"translate(20 %.0f) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">memory</text>\n",
		(BY0 + BY1) / 2);
	fprintf(o, "</svg>\n");
	if (fclose(o) != 0)
		kt_fatal("%s: %s", outname, strerror(errno));
	printf("kmm-trace plot: wrote %s (%zu points)\n", outname, points);
	free(outname);
	if (s->regs)
		free(s->regs->lt);
	free(s->regs);
	free(s->lt);
	free(s->st);
	free(s->plot);
	free(s);
	return 0;
}
