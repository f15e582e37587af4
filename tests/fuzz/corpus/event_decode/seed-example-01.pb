
01JDX0000000000000000000A1u-ada”ˆØ"learning*Europe/Berlin2class-7bR
	algebra-1math_ œ