
01JDX0000000000000000000A2u-adağ“Ø"learning2class-7bR
	algebra-2mathF â