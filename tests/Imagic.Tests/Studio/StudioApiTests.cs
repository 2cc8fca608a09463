using System.Net;
using System.Text.Json;
using Imagic.Editing;
using Imagic.Pipelines;
using Imagic.Studio;
using Imagic.Tests.Editing;

namespace Imagic.Tests.Studio;

/// <summary>The studio's HTTP API driven in process on tiny-sd1 with few steps.</summary>
public class StudioApiTests
{
    [Fact]
    public async Task WholeEdit_UploadProgressReadyAndSamples_SecondRequestForAnEtaIsServedFromTheCache()
    {
        await using var studio = await StudioTestHost.StartAsync();

        // Given an uploaded photo and a prompt
        var response = await studio.PostEditAsync();
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        string id = (await StudioTestHost.Json(response)).GetProperty("id").GetString()!;

        // When training runs to the end, progress arrives as events, stage by stage
        var events = await studio.ReadEventsAsync(id, e => e.GetProperty("status").GetString() is "ready" or "failed");
        Assert.Equal("ready", events[^1].GetProperty("status").GetString());
        var steps = events.Where(e => e.GetProperty("status").GetString() == "training")
            .Select(e => (e.GetProperty("stage").GetString(), e.GetProperty("step").GetInt32(), e.GetProperty("total").GetInt32())).ToList();
        Assert.Contains(("stage A", 3, 3), steps);
        Assert.Contains(("stage B", 3, 3), steps);
        Assert.Contains(events, e => e.GetProperty("stage").GetString() == "stage B" && e.GetProperty("loss").ValueKind == JsonValueKind.Number);
        var status = await StudioTestHost.Json(await studio.Client.GetAsync($"/api/edits/{id}"));
        Assert.Equal(("ready", "a photo of a dog standing", 7L), (status.GetProperty("status").GetString(),
            status.GetProperty("prompt").GetString(), status.GetProperty("seed").GetInt64()));
        var losses = await StudioTestHost.Json(await studio.Client.GetAsync($"/api/edits/{id}/losses"));
        Assert.Equal((3, 3), (losses.GetProperty("stage_a").GetArrayLength(), losses.GetProperty("stage_b").GetArrayLength()));

        // Then samples at two η values differ, and asking again for one is a cache hit with the same bytes
        var first = await studio.Client.GetAsync($"/api/edits/{id}/sample?eta=0.3&seed=1");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("image/png", first.Content.Headers.ContentType?.MediaType);
        Assert.Equal("miss", first.Headers.GetValues("X-Imagic-Cache").Single());
        var firstBytes = await first.Content.ReadAsByteArrayAsync();
        var other = await studio.Client.GetByteArrayAsync($"/api/edits/{id}/sample?eta=1.2&seed=1");
        Assert.NotEqual(firstBytes, other);
        var again = await studio.Client.GetAsync($"/api/edits/{id}/sample?eta=0.30&seed=1");
        Assert.Equal("hit", again.Headers.GetValues("X-Imagic-Cache").Single());
        Assert.Equal(firstBytes, await again.Content.ReadAsByteArrayAsync());
        Assert.Equal(firstBytes, File.ReadAllBytes(Path.Combine(studio.RunsDir, id, "samples", "cache", "eta_0.30_seed_1.png")));

        // And the run is an ordinary edit run folder: listed, and re-sampled by the CLI's code to the same image
        var list = await StudioTestHost.Json(await studio.Client.GetAsync("/api/edits"));
        Assert.Contains(list.EnumerateArray(), r => r.GetProperty("id").GetString() == id);
        var sweep = EditWorkflow.SampleFromRun(Path.Combine(studio.RunsDir, id), new[] { 0.3 }, seedCount: 1, firstSeed: 1);
        Assert.Equal(firstBytes, File.ReadAllBytes(sweep.ImagePaths[0]));
        var grid = await studio.Client.GetAsync($"/api/edits/{id}/grid?etas=0.3,1.2&seeds=1");
        Assert.Equal(HttpStatusCode.OK, grid.StatusCode);
        Assert.True(File.Exists(Path.Combine(studio.RunsDir, id, "samples", "studio_grid.png")));
        var input = await studio.Client.GetAsync($"/api/edits/{id}/input");
        Assert.Equal("image/png", input.Content.Headers.ContentType?.MediaType);

        // Bad η and seed values on a ready run are refused with one line
        await AssertOneLineError(await studio.Client.GetAsync($"/api/edits/{id}/sample?eta=1.5"), HttpStatusCode.BadRequest, "eta");
        await AssertOneLineError(await studio.Client.GetAsync($"/api/edits/{id}/sample?eta=-0.1"), HttpStatusCode.BadRequest, "eta");
        await AssertOneLineError(await studio.Client.GetAsync($"/api/edits/{id}/sample?eta=abc"), HttpStatusCode.BadRequest, "eta");
        await AssertOneLineError(await studio.Client.GetAsync($"/api/edits/{id}/sample?eta=NaN"), HttpStatusCode.BadRequest, "eta");
        await AssertOneLineError(await studio.Client.GetAsync($"/api/edits/{id}/sample?seed=-1"), HttpStatusCode.BadRequest, "seed");
        await AssertOneLineError(await studio.Client.DeleteAsync($"/api/edits/{id}"), HttpStatusCode.Conflict, "nothing to cancel");
    }

    [Fact]
    public async Task Cancel_TrainingEdit_KeepsItsCheckpoint_AndResumeFinishesIt()
    {
        await using var studio = await StudioTestHost.StartAsync();
        string id = await studio.StartEditAsync(stepsA: 30, stepsB: 2);

        // Given an edit past its first checkpoint (every 2 steps), when it is cancelled
        await studio.ReadEventsAsync(id, e => e.GetProperty("step").GetInt32() >= 3);
        var cancel = await studio.Client.DeleteAsync($"/api/edits/{id}");
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var stopped = await studio.WaitForStatusAsync(id, "cancelled");

        // Then the run folder holds a resumable checkpoint, and the status says cancelled
        Assert.Equal("stage A", stopped.GetProperty("stage").GetString());
        var manifest = EditRun.Open(Path.Combine(studio.RunsDir, id)).ReadManifest();
        Assert.Equal("running", manifest.Status);
        Assert.True(manifest.Step >= 3, $"checkpoint at step {manifest.Step}");
        Assert.True(Directory.Exists(Path.Combine(studio.RunsDir, id, "checkpoint")));

        // When it is resumed, it continues from that step to the end
        var resumed = await studio.Client.PostAsync($"/api/edits/{id}/resume", null);
        Assert.Equal(HttpStatusCode.Accepted, resumed.StatusCode);
        var events = await studio.ReadEventsAsync(id, e => e.GetProperty("status").GetString() is "ready" or "failed");
        Assert.Equal("ready", events[^1].GetProperty("status").GetString());
        Assert.DoesNotContain(events, e => e.GetProperty("stage").GetString() == "stage A" && e.GetProperty("step").GetInt32() < manifest.Step);
        Assert.Equal(30, File.ReadAllLines(Path.Combine(studio.RunsDir, id, "loss_stage_a.csv")).Length - 1);
    }

    [Fact]
    public async Task Recipes_InfoOffersTheModelsDefaultsPaperAndFast_AndAnEditTrainsWithTheChosenOne()
    {
        await using var studio = await StudioTestHost.StartAsync();

        // Given the recipes the page offers: the model's defaults, the paper's settings and the model's own fast recipe
        var info = await StudioTestHost.Json(await studio.Client.GetAsync("/api/info"));
        var recipes = info.GetProperty("recipes").EnumerateArray().Select(r => (r.GetProperty("name").GetString(),
            r.GetProperty("embedding_steps").GetInt32(), r.GetProperty("finetune_steps").GetInt32())).ToList();
        var paper = ImagicRecipes.PaperOptions;
        Assert.Equal([("default", 3, 3), ("paper", paper.EmbeddingSteps, paper.FinetuneSteps), ("fast", 2, 1)], recipes);

        // When an edit chooses 'fast' and leaves the step counts to it
        var response = await studio.PostEditAsync(stepsA: null, stepsB: null, change: f => f.Add(new StringContent("fast"), "recipe"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        string id = (await StudioTestHost.Json(response)).GetProperty("id").GetString()!;
        var done = await studio.WaitForStatusAsync(id, "ready", "failed");

        // Then it trained with the fast recipe laid over the model's defaults, as 'imagic edit --recipe fast' does
        Assert.Equal(("ready", "fast"), (done.GetProperty("status").GetString(), done.GetProperty("recipe").GetString()));
        var options = EditRun.Open(Path.Combine(studio.RunsDir, id)).ReadManifest().Options;
        var expected = ImagicRecipes.Resolve(StudioTestHost.FastModelDir, ImagicRecipes.Fast);
        Assert.Equal((2, 1, expected.EmbeddingLearningRate), (options.EmbeddingSteps, options.FinetuneSteps, options.EmbeddingLearningRate));
        Assert.Equal(0.01, options.EmbeddingLearningRate);
    }

    [Fact]
    public async Task BadInputs_AreRefusedWithAOneLineJsonError()
    {
        await using var studio = await StudioTestHost.StartAsync(maxUploadBytes: 40_000);

        await AssertOneLineError(await studio.PostEditAsync(image: new byte[50_000]), HttpStatusCode.RequestEntityTooLarge, "limit");
        await AssertOneLineError(await studio.PostEditAsync(image: "not a picture"u8.ToArray(), imageName: "notes.png"),
            HttpStatusCode.BadRequest, "notes.png");
        await AssertOneLineError(await studio.PostEditAsync(image: Array.Empty<byte>()), HttpStatusCode.BadRequest, "empty");
        await AssertOneLineError(await studio.PostEditAsync(prompt: "   "), HttpStatusCode.BadRequest, "prompt");
        await AssertOneLineError(await studio.PostEditAsync(change: f => f.Add(new StringContent("turbo"), "recipe")),
            HttpStatusCode.BadRequest, "recipe 'turbo' is unknown; choose one of: default, paper, fast.");
        await AssertOneLineError(await studio.PostEditAsync(stepsA: -1), HttpStatusCode.BadRequest, "embedding_steps");
        await AssertOneLineError(await studio.PostEditAsync(stepsB: 1_000_000), HttpStatusCode.BadRequest, "finetune_steps");
        await AssertOneLineError(await studio.PostEditAsync(change: f => f.Add(new StringContent("x7"), "seed")), HttpStatusCode.BadRequest, "seed");
        await AssertOneLineError(await studio.PostEditAsync(change: f => f.Add(new StringContent("everything"), "mask")),
            HttpStatusCode.BadRequest, "mask must be 'auto'");
        await AssertOneLineError(await studio.Client.PostAsync("/api/edits", new StringContent("{}")), HttpStatusCode.UnsupportedMediaType, "multipart");
        var sampleOutside = new MultipartFormDataContent { { new StringContent("../../etc/passwd"), "sample" }, { new StringContent("a dog"), "prompt" } };
        await AssertOneLineError(await studio.Client.PostAsync("/api/edits", sampleOutside), HttpStatusCode.BadRequest, "sample");

        await AssertOneLineError(await studio.Client.GetAsync("/api/edits/no-such-run"), HttpStatusCode.NotFound, "no-such-run");
        await AssertOneLineError(await studio.Client.GetAsync("/api/edits/no-such-run/sample?eta=0.5"), HttpStatusCode.NotFound, "no-such-run");
        await AssertOneLineError(await studio.Client.DeleteAsync("/api/edits/no-such-run"), HttpStatusCode.NotFound, "no-such-run");
        Assert.DoesNotContain(Directory.EnumerateDirectories(studio.RunsDir), d => !Path.GetFileName(d).StartsWith('.'));
    }

    [Theory]
    [InlineData("..")]
    [InlineData("%2e%2e")]
    [InlineData("..%2f..%2fetc")]
    [InlineData("%2e%2e%2fruns-outside")]
    [InlineData(".uploads")]
    public async Task RunIds_CannotReachOutsideTheRunsFolder(string id)
    {
        // Given a run folder beside the runs folder, which a traversing id would name
        var dir = TestPaths.NewTempDir("imagic-studio-traversal");
        var outside = Path.Combine(dir, "runs-outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, EditRun.ManifestFile), "{}");
        await using var studio = await StudioTestHost.StartAsync(runsDir: Path.Combine(dir, "runs"));

        var response = await studio.Client.GetAsync($"/api/edits/{id}/input");

        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest, $"{id}: {response.StatusCode}");
        Assert.NotEqual("image/png", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task FailedEdit_HasAReadableFailedStatus_AndLeavesNoRunFolder()
    {
        // Given a model folder whose UNet weights are damaged (the studio starts: it loads the model per edit)
        var model = TestPaths.NewTempDir("imagic-studio-broken");
        foreach (var file in Directory.EnumerateFiles(StudioTestHost.FastModelDir, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(model, Path.GetRelativePath(StudioTestHost.FastModelDir, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var weights = Directory.EnumerateFiles(Path.Combine(model, "unet"), "*.safetensors").Single();
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..1000]);
        await using var studio = await StudioTestHost.StartAsync(modelDir: model);

        string id = await studio.StartEditAsync();
        var failed = await studio.WaitForStatusAsync(id, "failed", "ready");

        Assert.Equal("failed", failed.GetProperty("status").GetString());
        var error = failed.GetProperty("error").GetString()!;
        Assert.Contains("safetensors", error);
        Assert.DoesNotContain("\n", error);
        Assert.DoesNotContain(Directory.EnumerateDirectories(studio.RunsDir), d => !Path.GetFileName(d).StartsWith('.'));
        await AssertOneLineError(await studio.Client.GetAsync($"/api/edits/{id}/sample?eta=0.5"), HttpStatusCode.Conflict, "failed");
    }

    [Fact]
    public async Task Restart_ListsRunsOnDisk_AndAnInterruptedRunCanBeResumed()
    {
        // Given a runs folder with a finished CLI run and a run interrupted in stage B (as by a killed server)
        var runs = TestPaths.NewTempDir("imagic-studio-restart");
        var options = ImagicOptions.ForModel(StudioTestHost.FastModelDir) with { EtaSweep = new[] { 0.8 } };
        var image = EditTestData.WriteInputImage(runs, "photo.png");
        EditWorkflow.Start(new EditRequest(image, "a finished edit", StudioTestHost.FastModelDir, Path.Combine(runs, "finished"), options));
        using var stop = new CancellationTokenSource();
        var stopAtB = new InlineProgress(p => { if (p.Stage == "stage B" && p.Step == 2) stop.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => EditWorkflow.Start(
            new EditRequest(image, "an interrupted edit", StudioTestHost.FastModelDir, Path.Combine(runs, "interrupted"),
                options with { FinetuneSteps = 4 }), stopAtB, stop.Token));

        // When a studio starts on that folder
        await using var studio = await StudioTestHost.StartAsync(runsDir: runs);

        // Then both are listed with their state on disk, the finished one samples, and the interrupted one resumes
        var list = (await StudioTestHost.Json(await studio.Client.GetAsync("/api/edits"))).EnumerateArray()
            .ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetProperty("status").GetString());
        Assert.Equal("ready", list["finished"]);
        Assert.Equal("interrupted", list["interrupted"]);
        Assert.Equal(HttpStatusCode.OK, (await studio.Client.GetAsync("/api/edits/finished/sample?eta=0.8")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await studio.Client.PostAsync("/api/edits/interrupted/resume", null)).StatusCode);
        var done = await studio.WaitForStatusAsync("interrupted", "ready", "failed");
        Assert.Equal("ready", done.GetProperty("status").GetString());
        Assert.Equal("trained", EditRun.Open(Path.Combine(runs, "interrupted")).ReadManifest().Status);
    }

    [Fact]
    public async Task RunState_WarnsWhenTheModelsVaeCannotHoldTheInput_FromTheRunsOwnMeasurement()
    {
        // Given two finished runs whose VAE round trips are recorded at 12 dB and at 30 dB
        var runs = TestPaths.NewTempDir("imagic-studio-ceiling");
        var options = ImagicOptions.ForModel(StudioTestHost.FastModelDir) with { EtaSweep = new[] { 0.8 } };
        var image = EditTestData.WriteInputImage(runs, "photo.png");
        var (run, _) = EditWorkflow.Start(new EditRequest(image, "an edit", StudioTestHost.FastModelDir, Path.Combine(runs, "low"), options));
        Assert.NotNull(run.ReadManifest().VaeRoundTripPsnr);
        run.WriteManifest(run.ReadManifest() with { VaeRoundTripPsnr = 12 });
        Directory.CreateDirectory(Path.Combine(runs, "high"));
        foreach (var file in Directory.EnumerateFiles(run.Dir))
            File.Copy(file, Path.Combine(runs, "high", Path.GetFileName(file)));
        var high = EditRun.Open(Path.Combine(runs, "high"));
        high.WriteManifest(high.ReadManifest() with { VaeRoundTripPsnr = 30 });

        // When a studio on that folder describes them
        await using var studio = await StudioTestHost.StartAsync(runsDir: runs);
        var low = await StudioTestHost.Json(await studio.Client.GetAsync("/api/edits/low"));
        var fine = await StudioTestHost.Json(await studio.Client.GetAsync("/api/edits/high"));

        // Then the first carries the warning with its figure and the second none
        Assert.Equal("ready", low.GetProperty("status").GetString());
        Assert.Contains("12.0 dB", low.GetProperty("warning").GetString());
        Assert.Equal(JsonValueKind.Null, fine.GetProperty("warning").ValueKind);
    }

    internal static async Task AssertOneLineError(HttpResponseMessage response, HttpStatusCode expected, string mentions)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"expected {expected}, got {response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!;
        Assert.Contains(mentions, error);
        Assert.DoesNotContain("\n", error);
        Assert.DoesNotContain("   at ", body); // no stack frame
    }

    sealed class InlineProgress(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }
}
