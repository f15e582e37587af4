
01JDX0000000000000000000B3u-bobğšØ"settingsr
America/New_York