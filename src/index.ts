/** toeplitz-lab: the public API that notebooks, the CLI and the benchmarks import. */
export { initBackend, backendReport, BACKEND_NAMES, type BackendName, type BackendReport } from './backend/select.js';
export { toeplitz, toeplitzLags, coefficientLength } from './ops/toeplitz.js';
export { toeplitzDense, toeplitzMatrix } from './ops/toeplitz-dense.js';
export { toeplitzSpectral } from './ops/toeplitz-spectral.js';
export { convolutionSize } from './ops/fft.js';
export { Module, Linear, Seeds, type ForwardOptions } from './layers/module.js';
export { Norm, simpleRmsNorm, type NormKind } from './layers/norm.js';
export { Rpe, type RpeConfig } from './layers/rpe.js';
export { activate, type Activation } from './layers/activation.js';
export { Decay, type DecayConfig } from './layers/decay.js';
export { Tno } from './layers/tno.js';
export { Gtu } from './layers/gtu.js';
export { Glu } from './layers/glu.js';
export { TnnBlock, TnnLM, TnnEncoder } from './models/tnn.js';
export { tnnConfig, TNN_PRESETS, type TnnConfig, type TnnPreset } from './models/config.js';
export { MultiHeadAttention, attentionCore, causalMask } from './layers/attention.js';
export { Positions, sinusoidalPositions, type PositionKind } from './layers/positional.js';
export { TransformerBlock, TransformerLM, TransformerEncoder } from './models/transformer.js';
export { transformerConfig, TRANSFORMER_PRESETS, type TransformerConfig, type TransformerPreset } from './models/config.js';
export { LanguageModel, Encoder, type Block, type TrunkConfig } from './models/sequence.js';
export { encodeSafetensors, encodeSafetensorsChunks, decodeSafetensors, SAFETENSORS_DTYPES, type SafetensorsTensor, type SafetensorsDtype, type DecodedSafetensors } from './io/safetensors.js';
export { saveCheckpoint, loadCheckpoint, writeFileAtomic, assignWeights, assertConfigEqual, configDifference, OPTIMIZER_PREFIX, CONFIG_KEY, type CheckpointInput, type LoadedCheckpoint, type ConfigDifference } from './io/checkpoint.js';
export { buildModel, modelSpec, saveModel, loadModel, saveWeightsOnly, type ModelSpec, type SequenceModel, type SaveExtras } from './models/saved.js';
export {
  loadCorpus, corpusDirectory, corpusDocumentIds, DOCUMENT_SEPARATOR, GUTENBERG_BOOKS, GUTENBERG_HELD_OUT, SOTU_YEARS,
  type Corpus, type CorpusDocument, type CorpusName, type Split,
} from './data/corpus.js';
export {
  ByteTokenizer, BpeTokenizer, tokenizerFromSpec, tokenizerReference, saveTokenizer, loadTokenizer,
  type Tokenizer, type TokenizerJSON, type TokenizerSpec,
} from './data/tokenizer.js';
export { WindowSampler, evaluationWindows, evaluationBatches, type Batch, type SamplerState, type EvalWindow, type EvalBatch } from './data/batches.js';
export { tokenNll, meanNll, perplexity, bitsPerByte } from './eval/loss.js';
export { evaluateLM, type EvalOptions, type EvalResult } from './eval/evaluate.js';
export { AdamW, ADAMW_DEFAULTS, clipByGlobalNorm, type AdamWConfig } from './train/optimizer.js';
export { learningRate, type ScheduleConfig } from './train/schedule.js';
export { train, checkpointPath, TRAIN_DEFAULTS, type TrainConfig, type BatchSource, type StepMetrics, type RunOptions, type LM } from './train/trainer.js';
export {
  etscConvert, etscModes, etscKernel, ssmKernel, ssmScan, ssmStep, createSsmState, resetSsmState,
  type DiagonalSsm, type EtscOptions, type SsmState, type SsmPrecision,
} from './ops/ssm.js';
export { etscConvertible, assertEtscConvertible, etscFromTno, tnoKernel, type EtscCheck } from './ops/ssm-tno.js';
export { reduceSsm, leastSquaresQr, relativeL2Error, type ReduceMethod } from './ops/ssm-reduce.js';
export { convert, RecurrentTnnLM, type ConvertOptions, type ConvertedLayer } from './models/recurrent.js';
export { FftDecoder, DECODE_PATHS, type Decoder, type DecodePath } from './decode/decoder.js';
export { CacheDecoder, type CacheDecoderOptions } from './decode/cache.js';
export { TnnStepper, causalTnnBlocks, type TokenMix } from './decode/step.js';
export { generate, sampleToken, type GenerateOptions, type SampleOptions } from './decode/generate.js';
export { timeIt, scalingExponent, measureCost, toeplitzStep, blockStep, toeplitzCostSweep, blockCostSweep, type Timing, type CostRow } from './eval/cost.js';
export { installKernel, KERNEL_NAME } from './notebook/kernel.js';
export { executeNotebook, describeFailure, type NotebookRun, type ExecuteOptions } from './notebook/execute.js';
export { runExtrapolation, EXTRAPOLATION_PRESETS, runName, type ExtrapolationRow, type ExtrapolationConfig, type ExtrapolationModel, type ExtrapolationHooks } from './experiments/extrapolation.js';
export { runEtscFit, reductionTradeoff, fitKernel, ETSC_FIT_PRESETS, type EtscFitConfig, type EtscFitRow, type EtscFitMethod, type ReductionRow } from './experiments/etsc-fit.js';
export { etscDrift, runEtscDrift, ETSC_DRIFT_PRESETS, type EtscDriftConfig, type EtscDriftTables, type DriftRow, type KernelRow, type PplRow, type ReducedRow } from './experiments/etsc-drift.js';
export { decoderFor, trainingLength, type DecoderOptions } from './decode/paths.js';
export { layerCoefficients, type LayerCoefficients, type LayerCoefficientsOptions } from './eval/coefficients.js';
export { parseJsonLines, readJsonLines } from './io/jsonl.js';
export { axis, baseLayout, spansDecades, FIGURE_SIZE, COLORS, type Figure, type AxisOptions } from './plot/figure.js';
export { toeplitzHeatmaps, coefficientsVsLag, decayEffect, denseToeplitz, type CoefficientsInput, type ToeplitzHeatmapsOptions, type CoefficientsVsLagOptions, type DecayEffectOptions } from './plot/toeplitz.js';
export { pplVsLength, type PplVsLengthOptions } from './plot/extrapolation.js';
export { speedVsLength, latestPoints, IMPL_LABELS, type CostRecord, type CostPoint, type SpeedVsLengthOptions } from './plot/speed.js';
export { trainingCurves, ema, type TrainingRun, type TrainingCurvesOptions } from './plot/training.js';
export { exportFigure, exportFigures, figureHtml, FigureRenderer, sharedRenderer, closeRenderer, chromiumPath, plotlyScriptPath, FIGURE_FORMATS, type FigureFormat, type ImageSize, type ExportOptions } from './plot/export.js';
export { show, figureBundle, displayBundle, type ShowOptions, type MimeBundle } from './plot/display.js';
export { showTable, tableHtml, saveTable, type TableOptions } from './plot/table.js';
export { extrapolationFigures } from './experiments/extrapolation.js';
export { paperFigures, writePaperFigures, type PaperFigures } from './experiments/figures.js';
export { etscModesFigure, etscKernelFitFigure, etscReductionFigure, etscFitFigure, etscDriftFigure, decodeCostFigure, type EtscModesOptions, type EtscKernelFitOptions, type DriftPoint, type DriftPplPoint, type DecodeCostPoint } from './plot/etsc.js';
export { decodeCostSweep, type DecodeCost, type DecodeCostEntry } from './eval/decode-cost.js';
