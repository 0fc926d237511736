/* html.h — plain HTML read without libxml2, as libxml2 would report it.
 *
 * html_to_text() (message.c) reads an HTML part through the SAX callbacks of
 * libxml2 2.9's HTML parser (htmlCtxtReadMemory() in recover mode, UTF-8),
 * which reads text one character at a time (~150 instructions a byte).
 * html_sax_fast() reads the plain documents most mail is made of (tags of
 * known elements or of none libxml2 knows, attributes, the entities of its
 * table, comments, a doctype) and calls the same callbacks with the same
 * arguments in the same order as that parser does, its implied, auto-closed
 * and ignored elements included.  On anything whose handling it does not
 * know for certain it stops and returns false: the caller then throws away
 * what the callbacks did and lets libxml2 read the whole input.
 * tests/unit/test_html.c holds the two readers to the same output. */
#ifndef DEALMAIL_HTML_H
#define DEALMAIL_HTML_H
#include <stdbool.h>
#include <stddef.h>

#include <libxml/HTMLparser.h>

/* Uses sax's startElement, endElement, characters, cdataBlock and comment
 * (all must be set); entity is libxml2's htmlEntityLookup(). */
bool html_sax_fast(const char *html, size_t len, const xmlSAXHandler *sax, void *ud,
		   const htmlEntityDesc *(*entity)(const xmlChar *name));

#endif
