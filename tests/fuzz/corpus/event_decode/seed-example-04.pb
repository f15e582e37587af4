
01JDX0000000000000000000B1u-bobÀÙ—Ø"
tournamentZ

t-42