/* The web page's files, embedded at build time (cmake/embed.cmake). */
#ifndef FG_WEB_ASSETS_H
#define FG_WEB_ASSETS_H

struct fg_web_asset {
    const char *path; /* "/index.html" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    unsigned len;
};

extern const struct fg_web_asset fg_web_assets[];
extern const unsigned fg_web_asset_count;

#endif
