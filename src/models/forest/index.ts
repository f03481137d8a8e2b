/** Fast random-forest regression: training, prediction, explanation, artifact I/O. */
export { DEFAULT_OPTIONS, resolveOptions } from './types';
export type { Forest, ForestOptions, Matrix, ProgressFn, SplitMethod } from './types';
export { prepareDataset, toColumnMajor } from './dataset';
export type { Dataset } from './dataset';
export { Mulberry32, treeSeeds } from './rng';
export type { TreeArrays } from './tree';
export type { TreeWorkspace } from './train';
export { trainForest, trainTrees, trainTreesOn, treeWorkspace, mergeForests, forestTrees, forestFromTrees } from './train';
export { predict, predictRow, contributions, featureImportances, forestStats } from './predict';
export type { Contributions } from './predict';
export { serializeForest, deserializeForest } from './artifact';
export {
  forestToMlRandomForestJSON,
  forestFromMlRandomForestJSON,
  treeToMlCartJSON,
  treeFromMlCartJSON,
} from './mlrf-json';
export type { MlCartNode, MlCartRegressionJSON, MlRandomForestRegressionJSON, ExportMeta } from './mlrf-json';
export { withLeafMedians, MEDIAN_TIE_BREAK } from './leaf-values';
