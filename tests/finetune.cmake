# Daily fine-tuning: items matched by raw id across vocabularies (model.init_from), the temporal
# split without leakage, and the seqrec binary fine-tuning, resuming and evaluating temporally.
sr_add_unit_test(test_vocab SOURCES test_vocab.c LIBS sr_model)
sr_add_unit_test(test_temporal SOURCES test_temporal.c LIBS sr_trainer RANKS 1 2)
sr_add_script_test(finetune_vocab SCRIPT finetune_vocab.sh)
sr_add_script_test(content_items SCRIPT content_items.sh)
