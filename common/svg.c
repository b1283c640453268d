/* svg.c: a small SVG writer for plots (axes, bars, lines). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "status.h"
#include "svg.h"

static void
esc(FILE *fp, const char *t)
{
	for (; t != NULL && *t != '\0'; t++)
		switch (*t) {
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '&': fputs("&amp;", fp); break;
		case '"': fputs("&quot;", fp); break;
		default:
			if ((unsigned char)*t >= 0x20 || *t == '\t')
				fputc(*t, fp);
		}
}

void
bn_svg_begin(struct bn_svg *s, FILE *fp, double width, double height,
    const char *title)
{
	s->fp = fp;
	s->width = width;
	s->height = height;
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	    "width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
	    "font-family=\"sans-serif\">\n<title>", width, height, width,
	    height);
	esc(fp, title);
	fprintf(fp, "</title>\n<rect x=\"0\" y=\"0\" width=\"%g\" "
	    "height=\"%g\" fill=\"white\"/>\n", width, height);
}

int
bn_svg_end(struct bn_svg *s)
{
	fputs("</svg>\n", s->fp);
	return ferror(s->fp) ? BN_EIO : BN_OK;
}

void
bn_svg_text(struct bn_svg *s, double x, double y, double size,
    const char *anchor, const char *text)
{
	fprintf(s->fp, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%g\" "
	    "text-anchor=\"%s\">", x, y, size, anchor);
	esc(s->fp, text);
	fputs("</text>\n", s->fp);
}

static double
px(const struct bn_svg_axes *a, double x)
{
	if (x < a->xmin)
		x = a->xmin;
	if (x > a->xmax)
		x = a->xmax;
	return a->x + (x - a->xmin) / (a->xmax - a->xmin) * a->w;
}

static double
py(const struct bn_svg_axes *a, double y)
{
	if (y < a->ymin)
		y = a->ymin;
	if (y > a->ymax)
		y = a->ymax;
	return a->y + a->h - (y - a->ymin) / (a->ymax - a->ymin) * a->h;
}

/* A 1-2-5 step giving about n ticks over [lo, hi]. */
static double
tick_step(double lo, double hi, int n)
{
	double raw = (hi - lo) / n, p, f;

	if (!(raw > 0) || !isfinite(raw))
		return 1;
	p = pow(10, floor(log10(raw)));
	f = raw / p;
	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void
ticks(struct bn_svg *s, const struct bn_svg_axes *a, int vertical)
{
	double lo = vertical ? a->ymin : a->xmin;
	double hi = vertical ? a->ymax : a->xmax;
	double step = tick_step(lo, hi, vertical ? 5 : 8), v, p;
	char buf[32];
	int i;

	for (i = 0, v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 &&
	    i < 100; i++, v += step) {
		if (fabs(v) < step * 1e-9)
			v = 0;
		snprintf(buf, sizeof buf, "%g", v);
		if (vertical) {
			p = py(a, v);
			fprintf(s->fp, "<line x1=\"%.2f\" y1=\"%.2f\" "
			    "x2=\"%.2f\" y2=\"%.2f\" stroke=\"#ddd\"/>\n",
			    a->x, p, a->x + a->w, p);
			bn_svg_text(s, a->x - 4, p + 4, 10, "end", buf);
		} else {
			p = px(a, v);
			fprintf(s->fp, "<line x1=\"%.2f\" y1=\"%.2f\" "
			    "x2=\"%.2f\" y2=\"%.2f\" stroke=\"#ddd\"/>\n",
			    p, a->y, p, a->y + a->h);
			bn_svg_text(s, p, a->y + a->h + 14, 10, "middle", buf);
		}
	}
}

void
bn_svg_axes(struct bn_svg *s, const struct bn_svg_axes *a)
{
	FILE *fp = s->fp;

	ticks(s, a, 1);
	if (!a->xcat)
		ticks(s, a, 0);
	fprintf(fp, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
	    "height=\"%.2f\" fill=\"none\" stroke=\"black\"/>\n", a->x, a->y,
	    a->w, a->h);
	if (a->title != NULL)
		bn_svg_text(s, a->x + a->w / 2, a->y - 10, 13, "middle",
		    a->title);
	if (a->xlabel != NULL)
		bn_svg_text(s, a->x + a->w / 2, a->y + a->h + (a->xcat ? 70 :
		    30), 11, "middle", a->xlabel);
	if (a->ylabel != NULL) {
		fprintf(fp, "<text x=\"0\" y=\"0\" font-size=\"11\" "
		    "text-anchor=\"middle\" transform=\"translate(%.2f %.2f) "
		    "rotate(-90)\">", a->x - 46, a->y + a->h / 2);
		esc(fp, a->ylabel);
		fputs("</text>\n", fp);
	}
}

void
bn_svg_bars(struct bn_svg *s, const struct bn_svg_axes *a, const double *lo,
    const double *hi, const double *v, size_t n, const char *color)
{
	double base = py(a, a->ymin > 0 ? a->ymin : 0), x0, x1, y;
	size_t i;

	fprintf(s->fp, "<g fill=\"%s\">\n", color);
	for (i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			continue;
		x0 = px(a, lo[i]);
		x1 = px(a, hi[i]);
		y = py(a, v[i]);
		fprintf(s->fp, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
		    "height=\"%.2f\"/>\n", x0, y < base ? y : base,
		    x1 - x0 > 0 ? x1 - x0 : 0, fabs(base - y));
	}
	fputs("</g>\n", s->fp);
}

void
bn_svg_line(struct bn_svg *s, const struct bn_svg_axes *a, const double *x,
    const double *y, size_t n, const char *color)
{
	size_t i;

	fprintf(s->fp, "<polyline fill=\"none\" stroke=\"%s\" "
	    "stroke-width=\"1.5\" points=\"", color);
	for (i = 0; i < n; i++)
		if (isfinite(x[i]) && isfinite(y[i]))
			fprintf(s->fp, "%s%.2f,%.2f", i ? " " : "", px(a, x[i]),
			    py(a, y[i]));
	fputs("\"/>\n", s->fp);
	for (i = 0; i < n; i++)
		if (isfinite(x[i]) && isfinite(y[i]))
			fprintf(s->fp, "<circle cx=\"%.2f\" cy=\"%.2f\" "
			    "r=\"2.5\" fill=\"%s\"/>\n", px(a, x[i]),
			    py(a, y[i]), color);
}

void
bn_svg_vline(struct bn_svg *s, const struct bn_svg_axes *a, double x,
    const char *color, const char *label)
{
	double p;

	if (x < a->xmin || x > a->xmax)
		return;
	p = px(a, x);
	fprintf(s->fp, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
	    "stroke=\"%s\" stroke-dasharray=\"4 3\"/>\n", p, a->y, p,
	    a->y + a->h, color);
	if (label != NULL)
		bn_svg_text(s, p + 2, a->y + 10, 9, "start", label);
}

void
bn_svg_legend(struct bn_svg *s, const struct bn_svg_axes *a, int i,
    const char *color, const char *label)
{
	double x = a->x + a->w - 170 * (i + 1), y = a->y - 36;

	fprintf(s->fp, "<rect x=\"%.2f\" y=\"%.2f\" width=\"10\" "
	    "height=\"10\" fill=\"%s\"/>\n", x, y, color);
	bn_svg_text(s, x + 14, y + 9, 10, "start", label);
}

void
bn_svg_xcats(struct bn_svg *s, const struct bn_svg_axes *a,
    const char *const *names, size_t n)
{
	double x, y = a->y + a->h + 8;
	size_t i;

	for (i = 0; i < n; i++) {
		x = px(a, (double)i + 0.5);
		fprintf(s->fp, "<text x=\"0\" y=\"0\" font-size=\"9\" "
		    "text-anchor=\"end\" transform=\"translate(%.2f %.2f) "
		    "rotate(-60)\">", x + 3, y);
		esc(s->fp, names[i]);
		fputs("</text>\n", s->fp);
	}
}
