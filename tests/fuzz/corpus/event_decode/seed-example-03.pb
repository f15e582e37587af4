
01JDX0000000000000000000A3u-adaÌ£—Ø"learning2class-7bR
	algebra-1mathd ¬