/* cache.c: being written (issue 5). */
