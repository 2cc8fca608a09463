namespace Imagic.Pipelines;

/// <summary>Progress of a long-running stage, reported through <see cref="IProgress{T}"/>.</summary>
/// <param name="Stage">A short name: "sampling", "stage A", "stage B", "training".</param>
/// <param name="Step">Steps completed so far (1-based after the first step).</param>
/// <param name="Total">Steps in the stage.</param>
/// <param name="Loss">The step's loss, for training stages.</param>
public readonly record struct StepProgress(string Stage, int Step, int Total, double? Loss = null);
