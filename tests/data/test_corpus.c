/* The corpus package readers on small packages written here (no network): Brown's tag
 * stripping and spacing against texts worked out by hand from the rules (docs/DATA.md),
 * nlp-corpus's grouping of sentences and its numeric file order, which files each reader
 * takes, and the errors for a package that is not one. */
#include "spectra/spectra.h"
#include "test_util.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void put(const char *path, const char *text) { CHECK(test_write_file(path, text, strlen(text)) == 0); }

/* Document i of c is `text`, named `name`. */
static int doc_is(const spectra_corpus *c, size_t i, const char *text, const char *name) {
    size_t len = 0;
    const char *d = spectra_corpus_doc(c, i, &len);
    int ok = d && len == strlen(text) && !memcmp(d, text, len) && !strcmp(spectra_corpus_doc_name(c, i), name);
    if (!ok) fprintf(stderr, "doc %zu: got [%.*s] (%s), want [%s] (%s)\n", i, (int)len, d ? d : "", spectra_corpus_doc_name(c, i), text, name);
    return ok;
}

static void test_brown(void) {
    const char *dir = "corpus_brown";
    mkdir(dir, 0755);
    /* Sentences start with a tab; blank lines separate paragraphs; `` and '' are quotes;
     * punctuation attaches to the word before it, opening brackets to the word after. */
    put("corpus_brown/ca01",
        "\n\n\tThe/at jury/nn said/vbd ``/`` it/pps did/dod ''/'' ./.\n"
        "\tIt/pps ran/vbd (/( fast/rb )/) ,/, too/rb ;/. 1\\/2/cd ?/.\n"
        "\n\n\tNew/jj paragraph/nn !/.\n\n");
    put("corpus_brown/cr09", "\tLast/ap one/cd ./.\n");
    put("corpus_brown/README", "not/nn a/at corpus/nn file/nn\n");
    put("corpus_brown/ca1", "not/nn one/cd either/rb\n");
    put("corpus_brown/cs01", "beyond/in cr/np\n");
    spectra_corpus *c = NULL;
    CHECK_OK(spectra_corpus_load_brown(dir, &c));
    CHECK(c && spectra_corpus_size(c) == 2);
    if (c && spectra_corpus_size(c) == 2) {
        CHECK(doc_is(c, 0, "The jury said \"it did\". It ran (fast), too; 1\\/2?\n\nNew paragraph!\n", "ca01"));
        CHECK(doc_is(c, 1, "Last one.\n", "cr09"));
    }
    spectra_corpus_free(c);
    /* a directory without Brown files */
    mkdir("corpus_empty", 0755);
    put("corpus_empty/notes.txt", "text\n");
    c = (spectra_corpus *)&c;
    CHECK(spectra_corpus_load_brown("corpus_empty", &c) == SPECTRA_ERR_FORMAT && c == NULL);
    CHECK(strstr(spectra_last_error(), "no Brown corpus files") != NULL);
    CHECK(spectra_corpus_load_brown("corpus_no_such_dir", &c) == SPECTRA_ERR_IO && c == NULL);
    CHECK(strstr(spectra_last_error(), "corpus_no_such_dir") != NULL);
    CHECK(spectra_corpus_load_brown(NULL, &c) == SPECTRA_ERR_INVALID_ARG);
}

static void test_nlp(void) {
    mkdir("corpus_nlp", 0755);
    mkdir("corpus_nlp/builds", 0755);
    put("corpus_nlp/builds/doc-2.json", "[\"A.\", \"B.\"]");
    put("corpus_nlp/builds/doc-10.json", " [ \"C.\" ,\"D.\",\n\"E.\" ] ");
    put("corpus_nlp/builds/doc-1.json", "[\"F \\u00e9\\n\\\"q\\\"\"]");
    /* a name longer than the package path plus the reader's margin: read by its whole name */
    char longname[200] = "corpus_nlp/builds/doc-";
    for (int i = 0; i < 120; i++) strcat(longname, "0");
    strcat(longname, "3.json");
    put(longname, "[\"G.\"]");
    put("corpus_nlp/builds/notes.json", "[\"not a doc\"]");
    put("corpus_nlp/builds/doc-5.txt", "[\"not a doc\"]");
    spectra_corpus *c = NULL;
    CHECK_OK(spectra_corpus_load_nlp("corpus_nlp", 2, &c));
    CHECK(c && spectra_corpus_size(c) == 5);
    if (c && spectra_corpus_size(c) == 5) {
        /* numeric order 1, 2, 3, 10; two sentences per document, a file's last one shorter */
        CHECK(doc_is(c, 0, "F \xc3\xa9\n\"q\"\n", "doc-1.json#0"));
        CHECK(doc_is(c, 1, "A.\nB.\n", "doc-2.json#0"));
        char want[200];
        snprintf(want, sizeof want, "%s#0", strrchr(longname, '/') + 1);
        CHECK(doc_is(c, 2, "G.\n", want));
        CHECK(doc_is(c, 3, "C.\nD.\n", "doc-10.json#0"));
        CHECK(doc_is(c, 4, "E.\n", "doc-10.json#1"));
    }
    spectra_corpus_free(c);
    CHECK_OK(spectra_corpus_load_nlp("corpus_nlp", 100, &c));
    CHECK(c && spectra_corpus_size(c) == 4);
    spectra_corpus_free(c);
    c = (spectra_corpus *)&c;
    CHECK(spectra_corpus_load_nlp("corpus_nlp", 0, &c) == SPECTRA_ERR_INVALID_ARG);
    /* malformed JSON: the error names the file and the byte */
    put("corpus_nlp/builds/doc-11.json", "[\"H.\", 12]");
    CHECK(spectra_corpus_load_nlp("corpus_nlp", 2, &c) == SPECTRA_ERR_FORMAT && c == NULL);
    CHECK(strstr(spectra_last_error(), "doc-11.json") != NULL && strstr(spectra_last_error(), "byte 7") != NULL);
    remove("corpus_nlp/builds/doc-11.json");
    /* no builds/ directory */
    CHECK(spectra_corpus_load_nlp("corpus_brown", 2, &c) == SPECTRA_ERR_IO && c == NULL);
    CHECK(strstr(spectra_last_error(), "corpus_brown/builds") != NULL);
}

int main(void) {
    test_brown();
    test_nlp();
    return test_finish("test_corpus");
}
