using Imagic.Editing;
using Imagic.Quality;
using Imagic.Tests.Editing;

namespace Imagic.Tests.Quality;

/// <summary>Benchmark settings small enough for tiny-sd1 in a unit test: they check the mechanics, not the quality.</summary>
internal static class QualityTestData
{
    public static BenchSettings Fast => new()
    {
        SamplingSteps = 3,
        GuidanceScale = 3,
        Imagic = EditTestData.FastOptions with { EmbeddingSteps = 2, FinetuneSteps = 2 },
        Etas = [0, 1],
        Strengths = [0.5, 1.0],
        InversionGuidance = [1, 3],
    };
}
