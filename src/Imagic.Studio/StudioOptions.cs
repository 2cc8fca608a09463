using Imagic.Pipelines;

namespace Imagic.Studio;

/// <summary>What <c>imagic serve</c> serves.</summary>
/// <param name="ModelDir">The model every new edit is trained with: a diffusers folder or a single-file checkpoint.</param>
/// <param name="RunsDir">Where run folders live: the runs of <c>imagic edit</c> there are listed too.</param>
/// <param name="SamplesDir">Sample inputs the page offers; null or missing for none.</param>
/// <param name="MaxUploadBytes">The largest accepted upload. Default 20 MB.</param>
/// <param name="MaxTrainingSteps">The largest stage A or stage B step count a request may ask for. Default 10 000.</param>
/// <param name="Loading">How the model is read and on which device it runs (as <c>--device</c> etc. of the CLI). Default: CPU.</param>
public sealed record StudioOptions(string ModelDir, string RunsDir, string? SamplesDir = null,
    long MaxUploadBytes = 20 * 1024 * 1024, int MaxTrainingSteps = 10_000, PipelineLoadOptions? Loading = null)
{
    /// <summary>The η range the slider and the sample endpoint accept.</summary>
    public const double MinEta = 0, MaxEta = 1.2;
}
