using System.Collections.Concurrent;
using Imagic.Editing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Imagic.Studio;

/// <summary>
/// Trains one edit at a time, in the order they came, on one dedicated thread: the CPU is the bottleneck, and
/// TorchSharp's dispose scopes belong to the thread that opens them. Stopping the server (Ctrl-C) cancels the
/// running edit, which saves a checkpoint as <c>imagic edit</c> does, and waits for it.
/// </summary>
internal sealed class EditQueue : IHostedService, IDisposable
{
    readonly BlockingCollection<EditJob> _pending = new();
    readonly ConcurrentDictionary<string, EditJob> _jobs = new();
    readonly CancellationTokenSource _stopping = new();
    readonly StudioOptions _options;
    readonly ILogger<EditQueue> _log;
    Thread? _worker;
    volatile EditJob? _current;

    public EditQueue(StudioOptions options, ILogger<EditQueue> log)
    {
        _options = options;
        _log = log;
    }

    public EditJob? Find(string id) => _jobs.TryGetValue(id, out var job) ? job : null;

    public IEnumerable<EditJob> Jobs => _jobs.Values;

    public bool IsTaken(string id) => _jobs.ContainsKey(id);

    public void Enqueue(EditJob job)
    {
        lock (_jobs)
        {
            if (!_jobs.TryAdd(job.Id, job))
                throw new InvalidOperationException($"Edit {job.Id} is already known.");
            _pending.Add(job);
        }
    }

    /// <summary>Queues an edit of a run this server may have run before (a resume), replacing its finished job.</summary>
    public void Replace(EditJob job)
    {
        lock (_jobs)
        {
            if (_jobs.TryGetValue(job.Id, out var old) && !old.State.IsFinal)
                throw new ImagicException($"Edit {job.Id} is {old.State.Status} already.");
            _jobs[job.Id] = job;
            _pending.Add(job);
        }
    }

    /// <summary>How many edits train before <paramref name="job"/>, or null once it is no longer queued.</summary>
    public int? PositionOf(EditJob job)
    {
        if (job.State.Status != EditState.Queued) return null;
        var ahead = _pending.ToArray().TakeWhile(j => j != job).Count(j => j.State.Status == EditState.Queued);
        return ahead + (_current is null ? 0 : 1);
    }

    /// <summary>Cancels a queued edit at once, or a training one after its current step (with a checkpoint).</summary>
    public void Cancel(EditJob job)
    {
        job.Update(s => s.Status == EditState.Queued ? s with { Status = EditState.Cancelled } : s);
        job.Cancellation.Cancel();
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _worker = new Thread(Work) { IsBackground = true, Name = "imagic-training" };
        _worker.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        if (_current is EditJob job)
        {
            _log.LogInformation("Stopping edit {Id} after its current step; its checkpoint is kept.", job.Id);
            job.Cancellation.Cancel();
        }
        if (_worker is not null)
            await Task.Run(() => _worker.Join(), cancellationToken).ConfigureAwait(false);
    }

    void Work()
    {
        try
        {
            foreach (var job in _pending.GetConsumingEnumerable(_stopping.Token))
            {
                if (job.State.Status != EditState.Queued) continue;
                _current = job;
                try
                {
                    Train(job);
                }
                catch (Exception e)
                {
                    // Recording the outcome failed too (a full disk, a deleted folder): keep serving the queue.
                    _log.LogError("Edit {Id}: {Message}", job.Id, e.Message);
                    job.Update(s => s.IsFinal ? s : s with { Status = EditState.Failed, Error = e.Message.ReplaceLineEndings(" ") });
                }
                _current = null;
            }
        }
        catch (OperationCanceledException)
        {
            // The server is stopping: queued edits never started, so they have nothing on disk to keep.
        }
    }

    void Train(EditJob job)
    {
        job.BeginTraining();
        string recipe = job.State.Recipe;
        Action<string> warn = m =>
        {
            _log.LogWarning("{Id}: {Message}", job.Id, m);
            job.Update(s => s with { Warning = s.Warning is null ? m : $"{s.Warning} {m}" });
        };
        try
        {
            if (job.Request is EditRequest request)
                EditWorkflow.Start(request, job.Progress, job.Cancellation.Token, warn);
            else
            {
                RunStore.WriteOutcome(job.Dir, null, null, recipe);
                EditWorkflow.Resume(job.Dir, _options.ModelDir, 1, job.Progress, job.Cancellation.Token, warn, _options.Loading);
            }
            RunStore.WriteOutcome(job.Dir, null, null, recipe);
            job.Update(s => s with { Status = EditState.Ready, Stage = "done", EtaSeconds = null });
            _log.LogInformation("Edit {Id} is ready.", job.Id);
        }
        catch (OperationCanceledException)
        {
            // Cancelled during the η sweep, the run is trained already: it is ready, not cancelled.
            bool trained = IsTrained(job.Dir);
            RunStore.WriteOutcome(job.Dir, trained ? null : EditState.Cancelled, null, recipe);
            job.Update(s => s with { Status = trained ? EditState.Ready : EditState.Cancelled, EtaSeconds = null });
            _log.LogInformation("Edit {Id} was cancelled; its checkpoint is in {Dir}.", job.Id, job.Dir);
        }
        catch (Exception e)
        {
            string message = e is ImagicException ? e.Message : $"Unexpected error ({e.GetType().Name}): {e.Message}";
            RunStore.WriteOutcome(job.Dir, EditState.Failed, message, recipe);
            job.Update(s => s with { Status = EditState.Failed, Error = message, EtaSeconds = null });
            _log.LogError("Edit {Id} failed: {Message}", job.Id, message);
        }
    }

    static bool IsTrained(string dir)
    {
        try
        {
            return File.Exists(Path.Combine(dir, EditRun.ManifestFile)) && EditRun.Open(dir).ReadManifest().Status == "trained";
        }
        catch (ImagicException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _pending.Dispose();
        _stopping.Dispose();
        foreach (var job in _jobs.Values) job.Cancellation.Dispose();
    }
}
