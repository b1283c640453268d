/* svg.h: a small SVG 1.1 writer for plots: panels with axes, ticks,
 * titles and units; histograms, bars and lines.  No dependencies; the
 * output is a self-contained document that browsers open. */
#ifndef BN_SVG_H
#define BN_SVG_H

#include <stddef.h>
#include <stdio.h>

struct bn_svg {
	FILE *fp;
	double width, height;
};

/* One plot area: a box in pixels and the data ranges it shows. */
struct bn_svg_axes {
	double x, y, w, h;		/* the inner plot box, pixels */
	double xmin, xmax, ymin, ymax;	/* data ranges (min < max) */
	const char *title, *xlabel, *ylabel;	/* labels carry the units */
	int xcat;			/* 1: x is categories (no x ticks) */
};

/* Start a document of width x height pixels with a <title>. */
void bn_svg_begin(struct bn_svg *s, FILE *fp, double width, double height,
    const char *title);
/* Close the document; BN_OK, or BN_EIO if the stream had an error. */
int bn_svg_end(struct bn_svg *s);

/* Frame, grid, ticks at 1-2-5 steps, tick labels, title, axis labels. */
void bn_svg_axes(struct bn_svg *s, const struct bn_svg_axes *a);
/* Bars from y = 0 (or ymin) up to v[i] over [lo[i], hi[i]]. */
void bn_svg_bars(struct bn_svg *s, const struct bn_svg_axes *a,
    const double *lo, const double *hi, const double *v, size_t n,
    const char *color);
/* A polyline through (x[i], y[i]), with a dot at each point. */
void bn_svg_line(struct bn_svg *s, const struct bn_svg_axes *a,
    const double *x, const double *y, size_t n, const char *color);
/* A dashed vertical marker at data x with a small label. */
void bn_svg_vline(struct bn_svg *s, const struct bn_svg_axes *a, double x,
    const char *color, const char *label);
/* Legend entry i, in a row above the box, from the right. */
void bn_svg_legend(struct bn_svg *s, const struct bn_svg_axes *a, int i,
    const char *color, const char *label);
/* Category labels under the box, rotated, centred on x = i + 0.5. */
void bn_svg_xcats(struct bn_svg *s, const struct bn_svg_axes *a,
    const char *const *names, size_t n);
/* Text at pixel (x, y); anchor "start", "middle" or "end". */
void bn_svg_text(struct bn_svg *s, double x, double y, double size,
    const char *anchor, const char *text);

#endif
