"""Stock firmware in: a full OTA, a bare payload.bin or a folder of partition images becomes a
target-files base romforge builds on (`romforge base import`), and two bases compare
(`romforge base diff`)."""
