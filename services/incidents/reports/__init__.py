"""Reports over the incidents read models: the timeliness self-check table (响应时效自检表),
MTTA/MTTR over time, first-line resolution, SLA attainment, repeats and reopenings."""
