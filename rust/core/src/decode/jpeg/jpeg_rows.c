/*
 * Row-by-row JPEG decoding through the libjpeg API of the vendored libjpeg-turbo (the same library,
 * and the same settings, as the TurboJPEG tj3Decompress8 call in whole.rs), for streaming rows
 * into the resize without the full-size image.
 *
 * libjpeg reports errors by calling error_exit, which must not return: as in TurboJPEG, it
 * longjmps back to the setjmp of the function that called into libjpeg. Every libjpeg call is made
 * from a function of this file that has set the jump buffer first, and no Rust frame lies between
 * the setjmp and the longjmp (Rust only calls these functions; libjpeg never calls back into Rust),
 * so the jump only unwinds C frames.
 *
 * Settings that decide the pixels, copied from tj3Decompress8 with TurboJPEG's defaults: the
 * memory source over the whole buffer, out_color_space JCS_EXT_RGB / JCS_GRAYSCALE / JCS_CMYK,
 * do_fancy_upsampling TRUE, dct_method JDCT_ISLOW, scale 1/1, max_memory_to_use 0, and its
 * progress monitor that fails past the scan limit.
 */

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"

typedef struct {
  struct jpeg_decompress_struct d;
  struct jpeg_error_mgr err;
  struct jpeg_progress_mgr progress;
  jmp_buf jb;
  void (*std_emit_message)(j_common_ptr, int);
  int created;
  int warned;
  int scan_limit;
  char message[JMSG_LENGTH_MAX];
} igpt_jpeg;

static igpt_jpeg *owner(j_common_ptr c) { return (igpt_jpeg *)c->client_data; }

static void on_output_message(j_common_ptr c) {
  (*c->err->format_message)(c, owner(c)->message);
}

static void on_error_exit(j_common_ptr c) {
  (*c->err->output_message)(c);
  longjmp(owner(c)->jb, 1);
}

static void on_emit_message(j_common_ptr c, int level) {
  igpt_jpeg *h = owner(c);
  h->std_emit_message(c, level); /* formats the first warning into h->message, as TurboJPEG */
  if (level < 0) h->warned = 1;
}

static void on_progress(j_common_ptr c) {
  igpt_jpeg *h = owner(c);
  if (h->d.input_scan_number > h->scan_limit) {
    snprintf(h->message, sizeof h->message, "Progressive JPEG image has more than %d scans",
             h->scan_limit);
    longjmp(h->jb, 1);
  }
}

static int create(igpt_jpeg *h) {
  if (setjmp(h->jb)) return -1;
  jpeg_create_decompress(&h->d);
  return 0;
}

/* A new decompressor, or NULL when out of memory. */
igpt_jpeg *igpt_jpeg_new(void) {
  igpt_jpeg *h = (igpt_jpeg *)calloc(1, sizeof(igpt_jpeg));
  if (!h) return NULL;
  h->d.err = jpeg_std_error(&h->err);
  h->std_emit_message = h->err.emit_message;
  h->err.error_exit = on_error_exit;
  h->err.output_message = on_output_message;
  h->err.emit_message = on_emit_message;
  h->d.client_data = h;
  if (create(h) != 0) {
    free(h);
    return NULL;
  }
  h->d.client_data = h; /* jpeg_create_decompress keeps client_data; set again for clarity */
  h->created = 1;
  return h;
}

void igpt_jpeg_free(igpt_jpeg *h) {
  if (!h) return;
  if (h->created) jpeg_destroy_decompress(&h->d);
  free(h);
}

/*
 * Reads the headers of data[0..len) (which must stay valid until igpt_jpeg_free) and starts
 * decompressing. Returns 0 and the output size and components (3 RGB, 1 gray, 4 CMYK), or -1 on
 * an error or when the image is not 8-bit (the caller then takes the whole-image path).
 */
int igpt_jpeg_start(igpt_jpeg *h, const unsigned char *data, unsigned long len, int scan_limit,
                    unsigned *width, unsigned *height, int *components) {
  if (setjmp(h->jb)) return -1;
  h->scan_limit = scan_limit;
  memset(&h->progress, 0, sizeof h->progress);
  h->progress.progress_monitor = on_progress;
  h->d.progress = &h->progress;
  h->d.mem->max_memory_to_use = 0;
  jpeg_mem_src(&h->d, data, len);
  if (jpeg_read_header(&h->d, TRUE) != JPEG_HEADER_OK) return -1;
  if (h->d.data_precision != 8) return -1;
  switch (h->d.jpeg_color_space) {
    case JCS_GRAYSCALE: h->d.out_color_space = JCS_GRAYSCALE; *components = 1; break;
    case JCS_CMYK: case JCS_YCCK: h->d.out_color_space = JCS_CMYK; *components = 4; break;
    default: h->d.out_color_space = JCS_EXT_RGB; *components = 3; break;
  }
  h->d.do_fancy_upsampling = TRUE;
  h->d.dct_method = JDCT_ISLOW;
  h->d.scale_num = 1;
  h->d.scale_denom = 1;
  jpeg_start_decompress(&h->d);
  if ((int)h->d.output_components != *components) return -1;
  *width = h->d.output_width;
  *height = h->d.output_height;
  return 0;
}

/*
 * Decodes up to max_rows (at most 64) next rows into buf, row i at buf + i * stride (stride >=
 * width * components). Returns the number of rows written (0 at the end), or -1 on an error.
 */
static int read_rows(igpt_jpeg *h, JSAMPROW *rows, unsigned max_rows) {
  unsigned n = 0;
  while (n < max_rows && h->d.output_scanline < h->d.output_height) {
    JDIMENSION got = jpeg_read_scanlines(&h->d, rows + n, max_rows - n);
    if (got == 0) return -1; /* suspension: impossible with the memory source */
    n += got;
  }
  return (int)n;
}

int igpt_jpeg_read(igpt_jpeg *h, unsigned char *buf, size_t stride, unsigned max_rows) {
  JSAMPROW rows[64];
  unsigned i;
  if (max_rows > 64) max_rows = 64;
  for (i = 0; i < max_rows; i++) rows[i] = buf + i * stride;
  if (setjmp(h->jb)) return -1;
  return read_rows(h, rows, max_rows);
}

/* Finishes the image (reads to EOI). Returns 0, or -1 on an error. */
int igpt_jpeg_finish(igpt_jpeg *h) {
  if (setjmp(h->jb)) return -1;
  jpeg_finish_decompress(&h->d);
  return 0;
}

/* Whether libjpeg emitted a warning so far (corrupt data it worked around, premature end). */
int igpt_jpeg_warned(const igpt_jpeg *h) { return h->warned; }

/* The error message, else the first warning (NUL-terminated, owned by h). */
const char *igpt_jpeg_message(const igpt_jpeg *h) { return h->message; }
