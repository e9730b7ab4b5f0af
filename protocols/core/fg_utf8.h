/* UTF-8 validation shared by every codec (RFC 3629). */
#ifndef FG_UTF8_H
#define FG_UTF8_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at p, with n bytes
 * available; 0 if it is not one (overlong, surrogate, above U+10FFFF, cut
 * short, stray continuation byte). Bytes are read in order and the first
 * bad one stops it, so for a NUL-terminated string n may simply be 4: the
 * terminator ends any sequence. */
size_t fg_utf8_len(const unsigned char *p, size_t n);

#endif
