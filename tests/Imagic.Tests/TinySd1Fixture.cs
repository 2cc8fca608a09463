using Imagic.Pipelines;

namespace Imagic.Tests;

/// <summary>The tiny SD 1.x reference pipeline, loaded once for the tests that only read it.</summary>
public sealed class TinySd1Fixture : IDisposable
{
    public StableDiffusionPipeline Pipeline { get; } = StableDiffusionPipeline.Load(TestPaths.TinySd1);

    public void Dispose() => Pipeline.Dispose();
}

[CollectionDefinition(Name)]
public sealed class TinySd1Collection : ICollectionFixture<TinySd1Fixture>
{
    public const string Name = "tiny-sd1";
}
