/* SPDX-License-Identifier: ISC */
/*
 * Build tool: turns sql/NNN_name.sql files into a C array so that the
 * alia binary carries its own migrations. Usage: embed OUT.c FILE...
 * (files in order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char *argv[])
{
	FILE *out, *in;
	const char *base;
	int i, c, version, last = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: embed OUT.c FILE...\n");
		return 2;
	}
	if ((out = fopen(argv[1], "w")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	fprintf(out, "/* Generated from sql/ by sql/embed.c. */\n");
	fprintf(out, "#include \"master/master.h\"\n\n");
	fprintf(out, "const struct pg_migration pg_migrations[] = {\n");
	for (i = 2; i < argc; i++) {
		base = strrchr(argv[i], '/');
		base = base != NULL ? base + 1 : argv[i];
		if (sscanf(base, "%d_", &version) != 1 || version <= 0) {
			fprintf(stderr, "%s: name is not NNN_name.sql\n", base);
			return 1;
		}
		if (version <= last) {
			fprintf(stderr, "%s: version %d not after %d\n", base,
			    version, last);
			return 1;
		}
		last = version;
		if ((in = fopen(argv[i], "r")) == NULL) {
			perror(argv[i]);
			return 1;
		}
		fprintf(out, "\t{ %d, \"%s\",\n\t    \"", version, base);
		while ((c = fgetc(in)) != EOF) {
			if (c == '\n')
				fprintf(out, "\\n\"\n\t    \"");
			else if (c == '"' || c == '\\')
				fprintf(out, "\\%c", c);
			else if (c < 0x20 && c != '\t')
				fprintf(out, "\\%03o", c);
			else
				fputc(c, out);
		}
		fprintf(out, "\" },\n");
		fclose(in);
	}
	fprintf(out, "};\n");
	fprintf(out, "const int pg_nmigrations = %d;\n", argc - 2);
	if (fclose(out) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
